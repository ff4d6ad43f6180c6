package synth

// Pre-built word lists and templates. Everything the hot path writes comes from here, so
// that generating a message is picking and appending, never formatting.

// locale is a pool of words a message is written in; weight is its share of messages.
type locale struct {
	weight int
	words  []string
}

var locales = []locale{
	{800, []string{
		"the", "a", "to", "and", "I", "you", "we", "it", "is", "that", "for", "on", "this", "can",
		"be", "with", "have", "will", "do", "not", "are", "just", "so", "if", "at", "what", "about",
		"meeting", "deploy", "review", "PR", "today", "tomorrow", "call", "sync", "ticket",
		"customer", "thanks", "ok", "sure", "sounds", "good", "let's", "check", "looks", "great",
		"bug", "fix", "release", "staging", "prod", "later", "lunch", "coffee", "please", "update",
		"docs", "quick", "question", "any", "idea", "why", "when", "how", "merge", "branch",
		"build", "failing", "green", "done", "working", "now", "back", "in", "5", "min", "ETA",
		"EOD", "LGTM", "ship", "roadmap", "Q3", "numbers", "budget", "invoice", "contract",
		"legal", "approve", "schedule", "calendar", "invite", "slides", "deck", "notes", "agenda",
		"standup", "retro", "sprint", "blocker", "priority", "urgent", "FYI", "btw", "thx", "k",
		"+1", "?", "yes", "no", "maybe", "I'm", "don't", "it's", "we're", "can't", "won't", "all",
		"team", "board", "client", "Friday", "Monday", "week", "next", "last", "the", "the",
		"to", "to", "a", "and", "is", "on", "call", "need", "want", "think", "know", "see",
		"send", "sent", "shared", "link", "file", "version", "v2", "final", "draft", "comments",
		"feedback", "pricing", "demo", "onboarding", "hiring", "offsite", "travel", "flight",
		"hotel", "expense", "report", "dashboard", "metrics", "latency", "p99", "incident",
		"postmortem", "rollback", "hotfix", "on-call", "pager", "alert", "CPU", "memory", "disk",
		"100%", "$1,200", "#general", "10:30", "3pm", "UTC", "e.g.", "i.e.", "etc.",
	}},
	{50, []string{
		"Hallo", "bitte", "danke", "schön", "Grüße", "Besprechung", "morgen", "Übersicht",
		"Änderung", "größer", "Straße", "fertig", "noch", "nicht", "gemacht", "ich", "wir", "und",
		"das", "ist", "für", "Kunde", "Rückmeldung", "Entwurf",
	}},
	{30, []string{
		"bonjour", "merci", "déjà", "réunion", "à", "demain", "très", "ça", "été", "où", "garçon",
		"Noël", "français", "le", "la", "et", "nous", "c'est", "l'équipe", "prêt", "coût",
	}},
	{30, []string{
		"hola", "gracias", "mañana", "reunión", "año", "señor", "¿qué", "tal?", "¡genial!", "está",
		"niño", "pequeño", "el", "la", "y", "equipo", "cliente", "después", "aquí",
	}},
	{10, []string{
		"takk", "góðan", "daginn", "þetta", "er", "frábært", "fundur", "á", "morgun", "ég", "við",
		"og", "Reykjavík", "Ísland", "ætlum", "síðar",
	}},
	{20, []string{
		"こんにちは", "会議", "明日", "ありがとう", "確認します", "了解です", "よろしく", "お願いします",
		"資料", "東京", "です", "ます", "、", "。", "リリース", "テスト",
	}},
	{20, []string{
		"你好", "明天", "会议", "谢谢", "没问题", "我们", "上线", "测试", "好的", "周报", "，", "。",
		"客户", "版本", "𠜎",
	}},
	{10, []string{"مرحبا", "شكرا", "اجتماع", "غدا", "نعم", "ممتاز", "التقرير", "العميل", "،", "؟"}},
	{10, []string{"שלום", "תודה", "פגישה", "מחר", "כן", "מצוין", "הלקוח", "דוח", "?"}},
	{10, []string{"привет", "спасибо", "встреча", "завтра", "да", "отлично", "отчёт", "ещё", "клиент", "и"}},
	{5, []string{"नमस्ते", "धन्यवाद", "बैठक", "कल", "हाँ", "रिपोर्ट"}},
	{5, []string{"안녕하세요", "감사합니다", "회의", "내일", "좋아요", "보고서"}},
	{5, []string{"γεια", "ευχαριστώ", "συνάντηση", "αύριο", "ναι", "πελάτης"}},
	{5, []string{"สวัสดี", "ขอบคุณ", "ประชุม", "พรุ่งนี้", "ครับ", "ค่ะ"}},
}

// specials are the tokens that break naive encoders and renderers: quotes, backslashes,
// control characters, line and paragraph separators, bidi overrides, combining marks,
// zero-width joiners, astral characters, HTML.
var specials = []string{
	`"quoted"`, `'single'`, `C:\Users\ada\Desktop`, `\n`, `back\slash`, "tab\there",
	"line1\nline2", "crlf\r\n", "</script>", "<script>alert(1)</script>", "<b>bold</b>", "&amp;",
	"&", "\u2028", "\u2029", "\u200b", "zero\u200dwidth", "\u0007", "\x1b[31mred\x1b[0m", "\x7f",
	"e\u0301", "n\u0303o", "Z\u0351\u0364a\u0352l\u0325g\u0353o", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👋🏽",
	"🇮🇸", "🇯🇵", "\ufeff", "\ufffd", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u202ereversed\u202c", "\u0000",
	`{"json":true}`, "https://example.com/a?b=1&c=%20d#frag", "@here", "@channel", `¯\_(ツ)_/¯`,
	"\u00a0", "½", "€100", "—", "…", "“smart quotes”", "‘x’", "«guillemets»", "\\\\server\\share",
	"\"", "\\", "/*", "*/", "${HOME}", "%s", "%d", "{{name}}", "\u0085", "\u061c", "\u2066rtl\u2069",
}

var emojiWords = []string{
	"👍", "😂", "🎉", "🔥", "✅", "❌", "💯", "🙏", "😅", "🚀", "👀", "❤️", "🤔", "😊", "🙌", "☕",
	"🐛", "📎", "🌴", "⚠️",
}

var mentions = []string{
	"@Ada", "@Zoë", "@李雷", "@Ólafur", "@team-platform", "@Seán", "@José", "@oncall",
}

// markdown decorations applied to a single word in markdownText (text keeps the plain word).
var mdWraps = [][2]string{{"**", "**"}, {"_", "_"}, {"`", "`"}, {"~~", "~~"}, {"[", "](https://docs.example.com/x)"}}

type emojiDef struct{ text, colons, fileURL string }

var emojis = []emojiDef{
	{"👍", ":+1:", ""}, {"😂", ":joy:", ""}, {"🎉", ":tada:", ""}, {"❤️", ":heart:", ""},
	{"👩‍💻", ":woman_technologist:", ""}, {"🏳️‍🌈", ":rainbow_flag:", ""},
	{"👋🏽", ":wave::skin-tone-4:", ""}, {"🇮🇸", ":flag-is:", ""}, {"🙏", ":pray:", ""},
	{"👀", ":eyes:", ""}, {"✅", ":white_check_mark:", ""}, {"🔥", ":fire:", ""},
	{":partyparrot:", ":partyparrot:", "https://cdn.chat.example/emoji/T0/partyparrot.gif"},
	{":shipit:", ":shipit:", "https://cdn.chat.example/emoji/T0/shipit.png"},
	{":müller-approved:", ":müller-approved:", "https://cdn.chat.example/emoji/T0/m%C3%BCller-approved.png?v=2&s=64"},
}

var itemTypes = []string{"task", "doc", "calendarEvent", "poll", "whiteboard", "recording", "file", "form"}

type snippet struct{ language, code string }

var snippets = []snippet{
	{"go", "func main() {\n\ts := \"héllo, 世界\"\n\tfmt.Printf(\"%q\\n\", s)\n}\n"},
	{"python", "def f(x):\n    return x.replace('\\\\', '/')  # 🐍\n\nprint(f(r\"C:\\temp\"))\n"},
	{"sql", "SELECT id, \"name\"\nFROM users\nWHERE name = 'O''Brien'\n\tAND created_at > now() - interval '1 day';"},
	{"json", "{\n  \"a\": [1, 2.5e3, null],\n  \"b\": \"\\u00e9\",\n  \"c\": {\"d\": true}\n}"},
	{"shell", "grep -rn \"TODO\" . | awk -F: '{print $1}' | sort -u\necho \"$HOME\\n\"\t# done\n"},
	{"javascript", "const re = /\\d+\\.\\d*/g;\ndocument.write(`</script><script>alert(\"x\")</script>`);\n"},
	{"", "Stack trace:\n\tat com.example.Main.run(Main.java:42)\n\tat java.lang.Thread.run(Thread.java:833)\n"},
	{"rust", "fn main() {\n    let s = r#\"raw \"string\" \\ here\"#;\n    println!(\"{s:?}\");\n}\n"},
	{"yaml", "key: \"value: with colon\"\nlist:\n  - 'single'\n  - \"tab\\there\"\nemoji: 🚀\n"},
	{"html", "<div class=\"msg\">\n\t<p>Hi &amp; welcome</p>\n</div>\n"},
	{"diff", "--- a/main.go\n+++ b/main.go\n@@ -1,3 +1,3 @@\n-\tx := 1\n+\tx := 2\n"},
	{"csv", "name,city,amount\n\"Zoë, Jr.\",Zürich,1.5e3\nÓlafur,Reykjavík,-0\n"},
}

var snippetComments = []string{"\n// rev ", "\n# rev ", "\n-- rev ", "\n/* rev */ ", "\n"}

// Attachments are kept verbatim by the archiver, so they carry what a re-encoder would
// change: unusual key order, exponents, negative zero, integers beyond float64, escapes that
// could be decoded, empty and non-ASCII keys.
var attachmentFileNames = []string{
	"Q3 report (final) v2.pdf", "Résumé – Zoë.docx", "画像.png", `budget "2026".xlsx`,
	`notes\draft.txt`, "IMG_0042.HEIC", "презентация.pptx", "😀.gif", "a/b.txt", "tab\tname.csv",
}

var attachmentMIME = []string{
	"application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"image/png", "application/vnd.ms-excel", "text/plain", "image/heic", "application/octet-stream",
	"image/gif", "text/plain; charset=utf-8", "text/csv",
}

var linkTitles = []string{
	"Ünïcödé — «title»", "Breaking: \"quotes\" & <tags>", "日本語のタイトル", "Reykjavík 🌋 guide",
	"a\\b\\c", "Line\u2028Separator",
}

// Verbatim attachment fragments, written exactly as they appear here.
var attachmentRaw = []string{
	`{"z":1,"a":[],"m":{},"n":-0,"big":12345678901234567890,"e":1e+21,"neg":-1.25E-7,"t":true,"f":false,"nil":null,"nested":[[1,[2,[3]]],{"k":"v"}],"s":"tab\tquote\"slash\/ \u2028"}`,
	`{"émoji":"🎉","日本":"語","":"empty key","a b":"space key","\u00e9scaped":"\u00e9t\u00e9"}`,
	`{"kind":"image","dims":[1920,1080],"exif":{"iso":100,"fNumber":2.8,"exposure":1E-3,"gps":[64.1466,-21.9426]},"alt":"Reykjavík 🌋","name":"IMG_\u00e9t\u00e9.HEIC"}`,
	`{"type":"poll-preview","options":[{"label":"🍕","votes":3},{"label":"🥗","votes":0.0}],"closed":false,"ratio":1.5e3}`,
	`{"card":{"title":"PagerDuty #4821","fields":[{"k":"severity","v":"SEV-2"},{"k":"service","v":"api"}],"color":"#ff0000"},"ts":1.7637696E12}`,
}

// Organization names: display name and the ASCII slug its e-mail domain uses.
var orgNames = [][2]string{
	{"Acme", "acme"}, {"Globex", "globex"}, {"Initech", "initech"}, {"Umbrella", "umbrella"},
	{"Nordlys", "nordlys"}, {"Café Müller", "cafe-mueller"}, {"Zürich Re", "zurich-re"},
	{"Øresund", "oresund"}, {"Łódź Logistics", "lodz-logistics"}, {"Ñandú", "nandu"},
	{"São Paulo Têxtil", "sao-paulo-textil"}, {"株式会社さくら", "sakura"}, {"Δέλτα", "delta"},
	{"Полярная звезда", "polar-star"}, {"Kōwhai", "kowhai"}, {"Fjällräven Data", "fjallraven-data"},
	{"Smith & Söhne", "smith-soehne"}, {"O'Reilly Partners", "oreilly-partners"},
	{"Tyrell", "tyrell"}, {"Wayne Enterprises", "wayne"}, {"Stark Industries", "stark"},
	{"Soylent", "soylent"}, {"Hooli", "hooli"}, {"Pied Piper", "piedpiper"},
	{"Vandelay Industries", "vandelay"}, {"Krusty Krab", "krustykrab"}, {"北京数据", "beijing-data"},
	{"Þór Verk", "thor-verk"}, {"Ærø Shipping", "aero-shipping"}, {"\"Quoted\" Ltd", "quoted"},
	{"Cyberdyne 🤖", "cyberdyne"}, {"Oceanic", "oceanic"},
}

var orgSuffixes = [][2]string{
	{"", ""}, {" Labs", "-labs"}, {" GmbH", "-gmbh"}, {" AS", "-as"}, {" Inc.", "-inc"},
	{" Ltd", "-ltd"}, {" SA", "-sa"}, {" KK", "-kk"}, {" Co.", "-co"}, {" Health", "-health"},
	{" Robotics", "-robotics"}, {" ehf.", "-ehf"},
}

// Person names: display form and the ASCII form used in e-mail addresses.
var firstNames = [][2]string{
	{"Ada", "ada"}, {"Zoë", "zoe"}, {"Ólafur", "olafur"}, {"José", "jose"}, {"François", "francois"},
	{"Søren", "soren"}, {"Łukasz", "lukasz"}, {"Siobhán", "siobhan"}, {"Björk", "bjork"},
	{"Chloé", "chloe"}, {"Mateo", "mateo"}, {"Priya", "priya"}, {"Wei", "wei"}, {"Yuki", "yuki"},
	{"Ahmed", "ahmed"}, {"Fatima", "fatima"}, {"Olga", "olga"}, {"Nikolai", "nikolai"},
	{"Ingrid", "ingrid"}, {"Kwame", "kwame"}, {"Aroha", "aroha"}, {"Ana", "ana"}, {"Marta", "marta"},
	{"Grace", "grace"}, {"Alan", "alan"}, {"Linus", "linus"}, {"Margaret", "margaret"},
	{"Tim", "tim"}, {"Barbara", "barbara"}, {"Ken", "ken"}, {"Radia", "radia"}, {"Hedy", "hedy"},
	{"Katherine", "katherine"}, {"Guido", "guido"}, {"Sigrún", "sigrun"}, {"Þóra", "thora"},
	{"Ægir", "aegir"}, {"Jean-Luc", "jean-luc"}, {"Seán", "sean"}, {"Zoltán", "zoltan"},
	{"İlkay", "ilkay"}, {"Đorđe", "djordje"}, {"Renée", "renee"}, {"Mårten", "marten"},
}

var lastNames = [][2]string{
	{"Lovelace", "lovelace"}, {"Turing", "turing"}, {"Hopper", "hopper"}, {"Müller", "mueller"},
	{"Gonçalves", "goncalves"}, {"Sigurðsson", "sigurdsson"}, {"Nørgaard", "norgaard"},
	{"Wójcik", "wojcik"}, {"O'Brien", "obrien"}, {"García", "garcia"}, {"Dvořák", "dvorak"},
	{"Çelik", "celik"}, {"Öztürk", "ozturk"}, {"Kowalski", "kowalski"}, {"Johansson", "johansson"},
	{"Smith", "smith"}, {"Chen", "chen"}, {"Kim", "kim"}, {"Nakamura", "nakamura"},
	{"Patel", "patel"}, {"Okafor", "okafor"}, {"Haddad", "haddad"}, {"Ivanova", "ivanova"},
	{"van der Berg", "vanderberg"}, {"de la Cruz", "delacruz"}, {"Ngata", "ngata"},
	{"Hamilton", "hamilton"}, {"Ritchie", "ritchie"}, {"Lamarr", "lamarr"}, {"Perlman", "perlman"},
}

// Whole names in scripts where first/last composition would be wrong.
var fullNames = [][2]string{
	{"李雷", "li.lei"}, {"韩梅梅", "han.meimei"}, {"山田太郎", "taro.yamada"}, {"김민준", "minjun.kim"},
	{"Анна Петрова", "anna.petrova"}, {"محمد علي", "mohamed.ali"}, {"דוד כהן", "david.cohen"},
	{"Νίκος Παπαδόπουλος", "nikos.papadopoulos"}, {"Nguyễn Văn An", "an.nguyen"},
	{"ศิริพร ทองดี", "siriporn.thongdee"}, {"प्रिया शर्मा", "priya.sharma"}, {"王小明", "wang.xiaoming"},
}

var nameDecorations = []string{" 🚀", " (OOO 🌴)", " 🇮🇸", " ☕", " (she/her)", " [contractor]", " 👩‍💻", " \"Z\""}

// Bot integrations: integrationId prefix and the bot's display name.
var integrations = [][2]string{
	{"github", "GitHub"}, {"jira", "Jira Cloud"}, {"pagerduty", "PagerDuty"},
	{"salesforce", "Salesforce"}, {"standup", "Standup Bot 🤖"}, {"gcal", "Google Calendar"},
	{"zapier", "Zapier"}, {"webhook", "Incoming Webhook"}, {"polly", "Polly"}, {"sentry", "Sentry"},
}

var guestPrefixes = []string{"Guest ", "Visitor ", "Gast ", "Invité ", "👤 ", ""}

var guestSuffixes = []string{"", " (guest)", " from Contoso", " (via link)", " – Kunde", " 🎧"}

// Texts of non-message events.
var waveMessages = []string{"Hey! got a minute?", "👋", "Knock knock", "¿Tienes un momento?", "ちょっといい？", ""}

var roomNames = []string{"Design review 🎨", "War room", "Standup", "Kaffee ☕", "会議室 A", "Board \"prep\"", "1:1"}

// Lines of a rare large paste (a log excerpt), with numbers spliced in.
var pasteLines = [][2]string{
	{"2026-11-22T10:15:42.123Z ERROR [worker-", "] request failed: status=503 path=\"/api/v1/items?id=42&x=%20\" retry=3\n"},
	{"2026-11-22T10:15:43.456Z WARN  [worker-", "] slow query (1.5e3 ms): SELECT * FROM \"events\" WHERE id = '\\x00'\n"},
	{"2026-11-22T10:15:44.789Z INFO  [worker-", "] user \"Zoë\" → 李雷: ok\t✅\n"},
	{"    at com.example.Handler.handle(Handler.java:", ")\n"},
}
