"""The signature tables: one list of regular expressions per attack category, matched against
normalised text (see :mod:`logtool.detect.normalize`: decoded, lower case, blanks collapsed).

The rules aim at attack *shapes*, not at one data set (``bench/detect_eval.py`` measures them on
a held-out split). Things that look alike in benign traffic are told apart by context: a command
counts after a shell separator (``;id``, ``|id|``, ``%0Aid``), or with an argument that looks
like a path, option or address (``cat /etc/passwd``, ``ping -c 3``), never as a parameter name
(``&id=``, ``&type=``) or a word (``mammal;cat;ears``); a target file counts at the root of a
value or after a traversal (``?f=/etc/passwd``), not inside a longer path
(``/docs/etc/passwd-manager-review``); ``javascript:`` counts when code follows it. A command
whose name is no English word (``tracert``, ``netsh``) takes any argument after a separator, a
word-like one (``echo``, ``route``) only after a shell separator, never after a blank or a lone
``&`` (``tom & echo band``); a whole value may be a reconnaissance command (``?cmd=whoami``) but
not a path (``/whoami`` is an endpoint name).
"""

from __future__ import annotations

_WEAK_SQL_FN = r"(?:char|chr|concat|concat_ws|group_concat|cast|convert|ascii|substring|substr|mid|ord|hex|unhex|count|version|user|current_user|database|schema|if|iif|elt|row|md5|sha1|upper|lower|length|len|isnull|ifnull|coalesce|rand|floor|exp)"
_STRONG_SQL_FN = r"(?:sleep|benchmark|pg_sleep|dbms_lock\.sleep|dbms_pipe\.receive_message|randomblob|extractvalue|updatexml|load_file|make_set|generate_series|utl_inaddr\.get_host_address|utl_http\.request|ctxsys\.drithsx\.sn|xmltype|regexp_substring|json_keys|gtid_subset|polygon|multipoint|linestring|exp\(~)"
_CMP = r"(?:=|<>|!=|<=?|>=?|\blike\b|\brlike\b|\bregexp\b|\bbetween\b|\bsounds\s+like\b|\bin\s*\()"

SQLI = [
    r"\bunion\s+(?:all\s+|distinct\s+)?\(*\s*select",
    r"\bselect\s+(?:\*|@@|null\b|distinct\b|top\s+\d|\d+\s*(?:,|\bfrom\b)|count\s*\(|case\s+when|\w+\s*\(|[\w.]+\s*,\s*[\w.]+.{0,80}\bfrom\b)",
    rf"\b(?:or|and|xor|having|where|when|not)\s*\(*\s*(?:['\"`]\s*\w*\s*['\"`]?|-?\d+(?:\.\d+)?|null|true|false|@@\w+|\w+\s*\([^)]*\))\s*{_CMP}",
    r"\b(?:or|and|xor|having|where)\s*\(*\s*\w+\s*(?:=|<>|!=|<=?|>=?)\s*(?:['\"`(]|-?\d|\w+\s*\()",
    r"['\"`]\s*\)*\s*(?:\bor\b|\band\b|\bxor\b|\|\||&&|\bdiv\b)",
    r"(?:^/?|=)\s*['\"`]+\s*[-+&^*|%/]?\s*['\"`]+\s*(?:$|&)",  # '-'  '^'  " " (authentication bypass)
    r"(?:^/?|=)\s*(?:and|or|xor)\s+(?:\d+|true|false|null)\s*(?:$|&|--|#|;)",  # a value that is a condition: and 0
    rf"\b{_STRONG_SQL_FN}\s*\(",
    rf"(?:^|['\"`=(,|&+*/\s;-]){_WEAK_SQL_FN}\s*\(\s*(?:\d|['\"`@*)]|0x|select\b|\w+\s*\()",
    r"\bwaitfor\s+(?:delay|time)\b",
    r"\b(?:information_schema|sysobjects|syscolumns|sys\.tables|pg_catalog|pg_shadow|sqlite_master|mysql\.user|xp_cmdshell|sp_executesql|sp_addlogin|sp_password|all_users|dba_users|user_tables)\b",
    r"\binto\s+(?:out|dump)file\b|\bload\s+data\s+(?:local\s+)?infile\b",
    r";\s*(?:drop|insert|delete|update|exec|execute|declare|begin|shutdown|select|create|alter|truncate|grant|copy)\s",
    r"\border\s+by\s+\d+\s*(?:$|[-#/;,)]|--|\s(?:asc|desc)?\s*(?:--|#|$))",
    r"\bgroup\s+by\b.{0,40}\bhaving\b",
    r"\bcase\s+when\s*\(*\s*(?:['\"\d(@]|\w+\s*[=<>])",
    r"['\"`]\s*\)*\s*(?:--|#|/\*)|'\s*\)*\s*;|['\"`]\s*\)*\s*;\s*(?:$|--|#|select|drop|insert|update|delete|exec|declare|waitfor|shutdown|if\s*\(|and\s|or\s)",
    r"\bnull\s*,\s*null\b",
    r"\b(?:exec|execute)\s*(?:\(|\s+(?:master|xp_|sp_|@))",
    r"\bprocedure\s+analyse\b",
    r"@@(?:version|datadir|hostname|servername|basedir|tmpdir|user|identity|spid|language|microsoftversion)",
    r"\b(?:insert\s+into|delete\s+from|drop\s+(?:table|database)|truncate\s+table|create\s+(?:user|table))\s+\S",
    r"\bselect\b.{0,40}\binto\s+@",
    r"['\"`]\s*(?:=|<|>|\blike\b)\s*[\w'\"]*\s*(?:--|#|/\*)|\(\s*\d+\s*=\s*\d+\s*\)|\bbackup\s+database\b",
]

_TAGS = r"script|iframe|frame|frameset|object|embed|applet|svg|math|meta|link|style|base|form|isindex|xml|xss|body|html|img|image|video|audio|source|input|details|marquee|bgsound|layer|ilayer|table|td|div|a|p|b|i|u|br|span|title|textarea|keygen|button|select|option|h1|h2|li|ul|plaintext|xmp|noscript|animate|set|marguee|x|feimage|path|polyline|use|foreignobject|animatetransform|handler|listener|vmlframe|import|xsl|t:set|blink|dialog|portal|template|picture|track|canvas|noembed|noframes|menu|command|content|shadow|slot"
_EVENTS = (
    r"abort|activate|afterprint|animationend|animationiteration|animationstart|auxclick|beforeactivate|beforecopy|beforecut|beforedeactivate|beforepaste|beforeprint|beforescriptexecute|beforeunload|begin|blur|bounce|cancel|canplay|canplaythrough|change|click|close|contextmenu|copy|cuechange|cut|dblclick|deactivate|drag|dragend|dragenter|dragleave|dragover|dragstart|drop|durationchange|emptied|end|ended|error|finish|focus|focusin|focusout|formdata|fullscreenchange|hashchange|input|invalid|keydown|keypress|keyup|load|loadeddata|loadedmetadata|loadend|loadstart|message|mousedown|mouseenter|mouseleave|mousemove|mouseout|mouseover|mouseup|mousewheel|offline|online|pagehide|pageshow|paste|pause|play|playing|pointerdown|pointerenter|pointerleave|pointermove|pointerout|pointerover|pointerrawupdate|pointerup|popstate|progress|propertychange|ratechange|readystatechange|repeat|reset|resize|scroll|scrollend|search|seeked|seeking|select|selectionchange|selectstart|show|stalled|start|storage|submit|suspend|timeupdate|toggle|touchend|touchmove|touchstart|transitioncancel|transitionend|transitionrun|transitionstart|unhandledrejection|unload|volumechange|waiting|webkitanimationend|webkittransitionend|wheel|zoom|afterupdate|beforeeditfocus|beforeupdate|cellchange|controlselect|dataavailable|datasetchanged|datasetcomplete|dragdrop|errorupdate|filterchange|help|layoutcomplete|losecapture|mediacomplete|mediaerror|move|moveend|movestart|outofsync|resume|reverse|rowdelete|rowenter|rowexit|rowinserted|rowsdelete|rowsenter|rowsinserted|seek|stop|syncrestored|timeerror|trackchange|urlflip|beforeinput|securitypolicyviolation|slotchange|visibilitychange|beforetoggle|dragexit|contentvisibilityautostatechange|beforematch|pagereveal|pageswap|scrollsnapchange|scrollsnapchanging|fullscreenerror"
    "|afterscriptexecute|resizeend|resizestart|redo|undo|gesturestart|gesturechange|gestureend|orientationchange"
    "|devicemotion|deviceorientation|deviceorientationabsolute|deviceproximity|devicelight|userproximity"
    "|gotpointercapture|lostpointercapture|pointerlockchange|pointerlockerror|touchcancel|touchenter|touchleave"
    "|animationcancel|upgradeneeded|versionchange|sourceopen|sourceended|nomatch"
    "|soundstart|soundend|speechstart|speechend|audiostart|audioend|encrypted|waitingforkey|rejectionhandled"
    "|languagechange|messageerror|beforeinstallprompt|appinstalled|notificationclick|statechange|voiceschanged"
    "|devicechange|beforexrselect|overflowchanged|textinput|compositionstart|compositionupdate"
    "|compositionend|formchange|forminput"
)

XSS = [
    rf"<\s*/?\s*(?:{_TAGS})\b",
    rf"<\s*/?\s*(?:{_TAGS})$",
    r"j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t\s*:\s*(?:$|[\w$.\[\]'\"]+\s*[(`=\[]|/[/*]|[\w$.]+\s*$|void\b|%|\\|[`'\"(])",
    r"\b(?:vbscript|livescript|mocha)\s*:",
    r"\bdata\s*:\s*(?:text/html|image/svg|application/(?:x-)?(?:javascript|ecmascript))",
    r"[\s/\"'`;]on[a-z]{3,}\s*=",
    rf"(?:^|[^a-z])on(?:{_EVENTS})(?:$|[^a-z])",
    r"\b(?:alert|confirm|prompt|eval|settimeout|setinterval|fromcharcode|atob|execscript|msgbox)\s*(?:\(|`)",
    r"\((?:alert|confirm|prompt)\)",
    r"\bdocument\s*\.\s*(?:location|body|createelement|forms|getelementby|url\b|referrer)|document\s*\.\s*(?:cookie|write|domain)\b",
    r"\b(?:window|self|top|parent|this|frames|globalthis)\s*\[\s*['\"`\d/]",
    r"=\s*(?:alert|prompt|confirm|eval)\s*[,;]|\bphn2zy|\bphnjcmlwd|<!attlist",
    r"(?:^|[^a-z])on(?:moz|webkit|ms|svg|dom)[a-z]{4,}(?:$|[^a-z])|\badw-.{0,40}\bad4-",
    r"\b(?:window|self|top|parent)\s*\.\s*(?:location|name|eval|alert|open)\b",
    r"\blocation\s*(?:\.\s*(?:hash|href|search|replace|assign)|\s*=)",
    r"\.\s*tostring\s*\(\s*\d+\s*\)|\bconstructor\s*\(|\bnavigator\s*\.\s*\w+\s*\(",
    r"\bexpression\s*\(",
    r"\b(?:dyn|low)src\s*=|\bsrcdoc\s*=|\bformaction\s*=|\bxlink\s*:\s*href|\bbehavior\s*:|-moz-binding",
    r"<!--.*-->|\]\]>|-->\s*<|<!\[cdata\[|<\?xml|<!entity|<!doctype",
    r"\bstyle\s*=\s*['\"]?[^'\"]*(?:expression|javascript|url\s*\()",
    r"\{\{.*(?:constructor|alert|\$on|\$eval).*\}\}",
    r"<\s*\?\s*import\b|\bimplementation\s*=\s*['\"]?#default#",
    r"(?:^/?|=)\s*<\s*(?:$|&)",  # a value that is only "<" (%3C, &lt, \x3c): a probe for reflection
    r"¼\s*/?\s*(?:script|img|svg|iframe|body|object|embed|a|div|style|input|image)\b[^¾]{0,200}¾",
]

#: Files and directories attackers aim at; they count at the root of a value or after a traversal.
_ROOT_TARGET = (
    r"(?:etc/[a-z][\w.-]*|proc/(?:self|\d+|version|cpuinfo|meminfo|mounts|net|cmdline|environ)"
    r"|var/(?:log|www|mail|spool|lib|run|adm|backups|cpanel|tmp|apache2?|nginx|db|opt|cache)/|usr/[a-z]"
    r"|opt/(?:lampp|xampp)|home/[\w.-]+/\.|root/\.|windows[/\\]|winnt[/\\]|inetpub[/\\]|xampp[/\\]|wamp[/\\]|program files"
    r"|(?:apache\d?|php\d?|mysql|nginx|httpd)[/\\](?:conf|logs?|bin)|sys/(?:class|kernel|devices)|dev/(?:null|random|shm|fd)"
    r"|boot/grub)"
)
TRAVERSAL = [
    r"(?:^|[/\\=\s'\"])\.{2,}(?:[/\\;]|2f|5c|$|\s|\?|&)",
    r"\betc(?:[/\\?]|%[0-9a-z]{2}|0x2f|0x5c|2f|5c){1,6}(?:passwd|shadow|issue|hosts|group|motd|master\.passwd)(?:$|[^\w-])",
    r"\bwindows(?:[/\\?]|%[0-9a-z]{2}|0x2f|0x5c|2f|5c){1,6}(?:system32|win\.ini|system\.ini|repair|debug|panther)\b",
    r"(?:/|\\)\.\.$",
    r"(?:^|[/\\=])(?:\./){3,}",
    rf"(?:^|[=\s'\"(;|&,:<>]|\.\.[/\\]+|file:)[/\\]*{_ROOT_TARGET}",
    r"(?:boot|win|system|desktop)\.ini\b",
    r"\b(?:php\.ini|my\.cnf|my\.ini|httpd\.conf|apache2\.conf|nginx\.conf|web\.xml|id_rsa|id_dsa|authorized_keys|known_hosts|\.bash_history|\.mysql_history|wp-config\.php|localsettings\.php|config\.inc\.php)\b",
    r"(?:^|[^\w-])(?:access|error)[_.]log\b",
    r"(?:web|meta)-inf[/\\]",
    r"(?:^|[=\s'\"(/\\])[a-z]:[\\/]",
    r"%(?:systemroot|windir|system32|programfiles|userprofile|appdata|temp)%",
    r"[/\\]{4,}",
    r"\bli4vli4v|\bli4uli4u|l2v0yy9wyxnzd2|\bli4vzxrj",
]

_STANDALONE = r"(?:id|whoami|uname|ls|dir|pwd|ifconfig|ipconfig|netstat|hostname|ver|systeminfo|tasklist|ps|env|printenv|set|reboot|shutdown|w|who|last|history|phpinfo|sysinfo|getuid|ipconfig/all|route|arp|lsof|groups|qwinsta)"
_WITH_ARGS = r"(?:cat|more|less|head|tail|nl|tac|type|rm|cp|mv|chmod|chown|touch|mkdir|echo|printf|wget|curl|nc|ncat|netcat|telnet|bash|sh|zsh|ksh|dash|csh|python[\d.]*|perl|php|ruby|lua|node|nslookup|dig|host|ping|ping6|sleep|timeout|kill|killall|sudo|su|crontab|base64|xxd|find|grep|awk|sed|tftp|ftp|scp|ssh|certutil|bitsadmin|powershell|cmd|net|reg|wmic|del|copy|start|ls|dir|netstat|uname|id|nohup|exec|eval|busybox|sysctl|mkfifo|openssl|socat|xterm|chattr|tar|unzip|gcc|msiexec|rundll32|regsvr32|cscript|wscript|mshta|icacls|attrib|net1|tasklist|taskkill|shutdown|whoami|route|arp|lsof|ipconfig|netsh|nbtstat|tracert|traceroute|nmap|findstr|schtasks)"
_WS = r"(?:\s|\$\{?ifs\}?|\$9)+"
_ARG = r"(?:-{1,2}\w|/|~|\$|\.{1,2}/|https?:|ftp:|\d+\.\d+\.|\d+\s*[;|&`]|\d+$|[a-z]:[\\/\s|]|%\w+%|['\"]|\||>|<|[\w-]+\.[a-z]{2,4}\b|\*|\{)"
#: Commands whose names are not English words: after a shell separator any argument will do.
_NONWORD = r"(?:uname|whoami|netstat|ifconfig|ipconfig|nslookup|netsh|nbtstat|tracert|traceroute|nmap|useradd|usermod|getent|wmic|schtasks|findstr|killall|pkill|powershell|pwsh|certutil|bitsadmin|chmod|chown|wget|sudo|crontab|tasklist|taskkill|systeminfo|qwinsta|icacls|ncat|socat|busybox)"
CMDI = [
    rf"(?:[;|`\n&]|\$\(|\|\|)\s*(?:(?:[/\\][\w.-]+)*[/\\])?{_STANDALONE}(?:$|[\s;|&`'\")<>#\n]|\$\{{?ifs)",
    rf"(?:[;|`\n&(]|\$\(|\|\||&&|^|[=\s'\"])\s*(?:(?:[/\\][\w.-]+)*[/\\])?{_WITH_ARGS}(?:\.exe)?{_WS}{_ARG}",
    r"\$\([^)]*\)",
    r"`[^`]*[a-z][^`]*`",
    r"(?:^|[\s;&|=(`'\"<>{,])/*(?:usr/(?:local/)?)?s?bin/[a-z][\w.-]*",
    r"<!--\s*#\s*(?:exec|include|echo|config|printenv)\b",
    r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|assert|create_function|call_user_func(?:_array)?|preg_replace|file_put_contents|file_get_contents|fwrite|eval)\s*\(\s*(?:['\"$`]|base64_decode|chr\s*\(|str_rot13|gzinflate|\$_|(?:id|whoami|ls|cat|uname)\b)",
    r"\b(?:phpinfo|base64_decode|gzinflate|str_rot13)\s*\(",
    r"\b(?:call_user_func_array|invokefunction|think\\+(?:app|container|request))\b|=\s*phpinfo\b",
    r"\b(?:cmd|powershell|pwsh)(?:\.exe)?\s+[/-](?:c|k|enc|encodedcommand|nop|w|command)\b",
    r"\bfor\s+/[lfdr]\b",
    r"\{\s*(?:cat|ls|id|wget|curl|nc|bash|sh|echo|ping|rm|uname|whoami),",
    r"\$\{?ifs\}?|\\0?33\[|\x1b\[",
    rf"(?:^|=)\s*{_STANDALONE}\s*[;|`]",
    rf"^/{_STANDALONE}[;|`](?:$|[^\w=])",  # /id; at the root of a path, not /list;jsessionid=
    # a whole value that is a reconnaissance command (?cmd=whoami); not /whoami, an endpoint name
    r"(?:^|=)\s*(?:whoami|uname|ifconfig|ipconfig|netstat|systeminfo|sysinfo|tasklist|net1?\s+(?:view|users?|localgroup|share|accounts|session))(?:\s+[-/]\w+)*\s*(?:$|&)",
    r"(?:[;|`\n]|\$\(|&&)\s*(?:echo|printf)(?:\s+[\w'\"$]|\s*>)",  # ;echo vulnerable
    rf"(?:[;|`\n]|\$\(|&&)\s*(?:(?:[/\\][\w.-]+)*[/\\])?{_NONWORD}(?:\.exe)?\s+[\w/.-]",  # ;tracert example.com
    r"\biex\s*\(|\bnew-object\s+(?:system\.)?net\.webclient|\.downloadstring\s*\(|\binvoke-(?:expression|webrequest)\b",
    r"(?:[;|`\n&]|\$\(|\|\|)\s*net1?(?:\.exe)?\s+(?:users?|localgroup|group|share|view|accounts|session|config|start|stop)\b",
    r"(?:[;|`\n&]|\$\()\s*(?:cat|more|less|head|tail|nl|tac|sh|bash)\s*<\s*[/\w~.]",  # ;cat</etc/passwd
    r"(?:[;|`\n&(=]|\$\(|^)\s*ch(?:mod|own)\s+(?:-[a-z]+\s+)?(?:[0-7]{3,4}|[ugoa]*[-+=][rwxst]+|\w+:\w*)\s+\S",
    r"(?:[;|`\n&]|\$\(|\s)/[?*]{2,}[\w?*]*/[\w?*]*[?*]",  # /???/c?t /???/p??s??
    r"\b(?:for\s+\w+\s+in\s|while\s+(?:true|:|\[))[^;\n]{0,80}[;\n]\s*do\s.{0,80}[;\n]\s*done\b",
    r"\breg(?:\.exe)?\s+(?:add|delete|query|save|export)\s+\W*hk",
    r"/dev/(?:tcp|udp)/",
    r"\b(?:nc|ncat|netcat)\b.{0,30}\s-[a-z]*[elvnp]",
    r"\bbash\s+-[a-z]*i\b|\|\s*(?:ba)?sh\b|\bsh\s+-c\b",
    r"java\.lang\.runtime|getruntime\s*\(\s*\)|\bprocessbuilder\b|#_memberaccess|@java\.lang|@org\.apache\.|freemarker\.template\.utility|\.getclass\s*\(\s*\)|class\.module\.classloader|\bclassloader\.(?:urls|resources|defaultassertionstatus)",
    r"\{\{\s*\d+\s*\*\s*\d+\s*\}\}|\$\{\s*\d+\s*\*\s*\d+\s*\}|<%=|\{\{.*(?:__class__|__globals__|__builtins__|config\.items|self\.|request\.application|\.popen|\.system|getclass|forname|\.exec).*\}\}|\$\{.*(?:\.exec|getclass|forname|\.system\(|os\.system|runtime)",
]

RFI = [
    r"(?:^|[?&=])\s*(?:https?|ftps?)://[^\s?&]*\.(?:txt|inc|dat|jpe?g|gif|png)\?",
    r"(?:^|[?&=])\s*(?:https?|ftps?)://[^\s&]+\?+(?:$|&)",
    r"(?:^|[?&=\s])(?:php|data|expect|zlib|phar|file|glob|input|gopher|dict|jar|netdoc|compress\.zlib)://",
    r"(?:^|[?&=])\s*(?:https?|gopher|dict|ftp)://(?:127\.|10\.|192\.168\.|169\.254\.|172\.(?:1[6-9]|2\d|3[01])\.|0\.0\.0\.0|localhost\b|\[::1?\]|metadata\.google)",
]

LOG4SHELL = [
    r"\$\{\s*(?:jndi|j\W*n\W*d\W*i)\s*:",
    r"\$\{\s*(?:jndi|j\W*n\W*d\W*i)\b",
    r"\$\{[^}]{0,80}(?:ldaps?|rmi|dns|iiop|corba|nds|nis)\s*:\s*/",
    r"\$\{\s*(?:lower|upper|env|sys|java|::-|date|ctx|main|bundle|k8s|docker|spring|log4j|web|marker|event|sd|base64|script|url|dns)\s*:",
]

#: In a user agent ``; id)`` and ``; id;`` are a locale (Opera's ``U; id``): there a command
#: after ``;`` must not be followed by ``)`` or ``;``, unless it is glued to the separator
#: (``';id;'``) or follows a quote (``'; id;``), which no browser writes.
CMDI_UA = [
    rf"(?:[|`\n&]|\$\(|\|\|)\s*(?:(?:[/\\][\w.-]+)*[/\\])?{_STANDALONE}(?:$|[\s|&`'\"<>#\n;]|\$\{{?ifs)",
    rf";\s*(?:(?:[/\\][\w.-]+)*[/\\])?{_STANDALONE}(?:$|[\s|&`'\"<>#\n]|\$\{{?ifs)",
    rf"(?:^|[^\w\s;])\s*;{_STANDALONE}[;)]|(?:^|['\"`])\s*;\s*{_STANDALONE}\s*[;)]",
    *CMDI[1:],
]

SHELLSHOCK = [r"\(\s*\)\s*\{"]

SENSITIVE_FILE = [
    r"/\.(?:env|git|svn|hg|bzr|cvs|aws|ssh|docker|kube|htpasswd|htaccess|ds_store|bash_history|bashrc|profile|mysql_history|sh_history|npmrc|pypirc|vscode|idea|config|cache|forward|rhosts|netrc|passwd|pwd|listings?|subversion|perf|gitconfig|git-credentials|boto|s3cfg|travis\.yml|env\.\w+|cvsignore)(?:/|$|\?|\.\w+$)",
    r"\.(?:bak|swp|swo|old|orig|save|sql|sqlite|sqlite3|mdb|pem|key|p12|pfx|kdbx|dump)(?:$|\?)",
    r"/(?:backup|backups|site|www|web|db|database|dump|htdocs|public_html|wwwroot|html)\.(?:zip|tar|tgz|tar\.gz|rar|7z|gz|sql)(?:$|\?)",
    r"/(?:database|secrets|credentials|parameters|config)\.(?:yml|yaml|json)(?:$|\?)",
    r"~$",
    r"/(?:wp-config\.php|config\.php\.bak|configuration\.php|settings\.py|local\.xml|web\.config|credentials|phpinfo\.php|info\.php|server-status|server-info)",
    r"/(?:solr/admin|actuator|jmx-console|web-console|invoker/|manager/html|crx/packmgr|crx/de|system/console|\.well-known/security\.txt\.php|hudson|jenkins/script)|^/script(?:$|\?)",
    r"(?:^|/)[\w-]*(?:shell|c99|r57|wso|b374k|alfa|webshell|backdoor|phpspy|indoxploit|uploader|filemanager)[\w-]*\.(?:php\d?|asp|aspx|jsp|cgi|pl)\b",
    r"/(?:cmd|up|upload|x|xx|z|sh|mini|1|ws)\.(?:php|asp|aspx|jsp)$",
    r"/w00tw00t\.at\.|/muieblackcat|/(?:azenv|proxyheader|judge)\.php",
    r"/vendor/phpunit/.*eval-stdin\.php|htmlawedtest\.php|telerik\.web\.ui\.webresource\.axd|/boaform/|/hnap1|_ignition/execute-solution|/owa/auth/|autodiscover/autodiscover\.xml",
    r"/api/v2/cmdb/system/admin|/setup/setupadministrator\.action|/json/setup-restore\.action|/remote_agent\.php|/php/ztp_gate\.php|createremoteappwebsession\.php|/index\.php/\.js\.map|/remote/fgt_lang|/dana-na/|/tmui/login\.jsp|/catalog-portal/ui/oauth|/vcav-bootstrap/|/setup\.cgi|/cgi-bin/.*\.(?:sh|cgi|pl)\b.*[;|]",
    r"[?&]author=\d+(?:$|&)",
]

#: Paths that only a scanner asks for when the site does not have them (answered 4xx).
MISSING_PROBES = [
    r"/(?:typo3/|xampp/|admin/)?(?:pma|phpmyadmin|myadmin|mysqladmin|sqladmin|dbadmin|mysql|phpmyadmin\d?)(?:[-\d._]*)(?:/|$)",
    r"/(?:roundcube|webmail|horde|squirrelmail|rcmail|mail|v-webmail)(?:/|$)",
    r"/wp-(?:login|signup|admin|content|includes)\b|/xmlrpc\.php|/wp-json/",
    r"/cgi-bin/|/cgi/|/scripts/setup\.php|/setup\.php|/install\.php|/administrator/|/admin\.php|/user/register",
]

SIGNATURES: dict[str, list[str]] = {
    "sqli": SQLI,
    "xss": XSS,
    "traversal": TRAVERSAL,
    "cmdi": CMDI,
    "rfi": RFI,
    "log4shell": LOG4SHELL,
    "shellshock": SHELLSHOCK,
    "sensitive_file": SENSITIVE_FILE,
}

SCANNER_AGENTS = (
    r"sqlmap|nikto|nuclei|masscan|zgrab|wpscan|nmap|dirbuster|gobuster|ffuf|feroxbuster|acunetix|netsparker|nessus|openvas"
    r"|w3af|zmeu|l9explore|l9tcpid|censysinspect|netsystemsresearch|jaeles|xray|arachni|skipfish|whatweb|hydra|dirb\b"
    r"|havij|pangolin|commix|xsser|wfuzz|morfeus|jorgee|trackback/|emailcollector|emailsiphon|emailspider|emailwolf"
    r"|webemailextrac|extractorpro|atomic_email_hunter|contactbot|grabber|webshag|joomscan|droopescan|cmsmap|fimap"
    r"|(?:^|[^a-z])zgrab|httprint|brutus|medusa|\bzeus\b|masscan|shodan|paros|webinspect|appscan|websecurify|vega/"
)
