#!/usr/bin/env bash
# The README's library example, as a user would build it: installs the built
# project into a temporary prefix, builds tests/consumer/main.cpp against it
# twice — with find_package(recur) in CMake, and with a plain compiler command
# that adds nothing but -std=c++17 and the paths — and checks that
#   - the README shows exactly that program,
#   - neither build compiles the user's code with -march or any tuning flag,
#   - the program's predictions, on texts with non-ASCII words written composed,
#     decomposed and in capitals, for a lowercased model with <unk>, are
#     byte for byte those of `recur predict --format jsonl` on the same model file.
# Usage: tests/consumer_test.sh BUILD_DIR SOURCE_DIR RECUR_BIN [LINK_FLAGS]
# LINK_FLAGS: the build's own linker flags (empty but in `make test-sanitize`,
# whose library needs the sanitizer runtimes linked into the consumer too).
set -euo pipefail
build="$1"
src="$2"
recur="$3"
link_flags="${4:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The README's C++ block is the program this test builds.
awk '/^<!-- library-example -->$/{on=1; next} on && /^```cpp$/{inblock=1; next} inblock && /^```$/{exit} inblock' \
  "$src/README.md" > "$work/readme.cpp"
diff -u "$src/tests/consumer/main.cpp" "$work/readme.cpp" || { echo "README's library example differs from tests/consumer/main.cpp"; exit 1; }

cmake --install "$build" --prefix "$work/prefix" > /dev/null
cmake -S "$src/tests/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_EXE_LINKER_FLAGS="$link_flags" > /dev/null
cmake --build "$work/build" > /dev/null
if grep -E -- '-march|-mtune|-mavx|-mprefer' "$work/build/compile_commands.json"; then
  echo "the consumer's code was compiled with tuning flags"; exit 1
fi
libs="$work/prefix/lib/librecur.a -lopenblas -lutf8proc"
[ -f "$work/prefix/lib/librecur.a" ] || libs="-L$work/prefix/lib -Wl,-rpath,$work/prefix/lib -lrecur"
c++ -std=c++17 -I"$work/prefix/include" "$src/tests/consumer/main.cpp" -o "$work/plain" $libs $link_flags

# Training data with accented words, some of them rare (<unk>).
e=$'\xc3\xa9'; E=$'\xc3\x89'; dec=$'e\xcc\x81'
{
  printf 'the caf%s is good\tpos\ngood caf%s today\tpos\nvery good tea\tpos\nthe tea is good\tpos\n' "$e" "$e"
  printf 'the caf%s is bad\tneg\nbad caf%s today\tneg\nvery bad tea\tneg\nthe tea is bad\tneg\n' "$e" "$e"
  printf 'good good\tpos\nbad bad\tneg\nvery very good\tpos\nvery very bad\tneg\n'
} > "$work/train.tsv"
printf 'good caf%s\tpos\nbad tea\tneg\n' "$e" > "$work/test.tsv"
texts=("the CAF$E is good" "the caf$dec is bad" "Caf$e na${dec}ve, tr${e}s BAD" "unseen words only")

"$work/build/consumer" "$work/train.tsv" "$work/test.tsv" "$work/model.st" "${texts[@]}" > "$work/lib.jsonl" 2> "$work/lib.err"
"$work/plain" "$work/train.tsv" "$work/test.tsv" "$work/model2.st" "${texts[@]}" > "$work/plain.jsonl" 2> /dev/null
"$recur" predict --model "$work/model.st" --format jsonl "${texts[@]}" > "$work/cli.jsonl" 2> /dev/null
grep -q "test accuracy" "$work/lib.err"
[ "$(wc -l < "$work/lib.jsonl")" -eq 4 ]
diff -u "$work/cli.jsonl" "$work/lib.jsonl"
cmp "$work/model.st" "$work/model2.st"          # both builds train the same model, bit for bit
diff -u "$work/cli.jsonl" "$work/plain.jsonl"
echo "consumer: predictions equal recur predict's; README example builds without tuning flags"
