#!/usr/bin/env bash
# Writes the fuzzers' seed corpora (tests/fuzz/corpus/<target>/seed-*) from the
# project's own fixtures: models and checkpoints trained by recur on the
# built-in data (tiny sizes, so the fuzzers' inputs stay small), one PyTorch
# fixture, the data files, and texts for the UTF-8, tokenizer and
# normalization targets. Inputs of crashes found and fixed live beside them as
# crash-* files and are never rewritten here.
#   usage: tests/fuzz/make_seeds.sh [build/recur]
set -euo pipefail
cd "$(dirname "$0")/../.."
recur="${1:-build/recur}"
out=tests/fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in safetensors checkpoint model_metadata tsv csv jsonl utf8 tokenizers normalize; do
  mkdir -p "$out/$t"
  rm -f "$out/$t"/seed-*
done

# Models and checkpoints (model files are also checkpoints' first part).
cut -f1 data/seed_train.tsv > "$tmp/text.txt"
"$recur" train --hidden 2 --epochs 1 --quiet --save "$tmp/rnn.safetensors" 2>/dev/null
"$recur" train --train data/seed_train.tsv --cell lstm --bidirectional --embed 2 --hidden 2 --bias-hh \
  --tokenizer word --min-count 2 --lowercase --optimizer adam --valid-fraction 0.2 --epochs 2 --log-every 1 --quiet \
  --save "$tmp/lstm_bi.safetensors" 2>/dev/null
"$recur" train --task lm --text "$tmp/text.txt" --cell gru --layers 2 --hidden 2 --batch 2 --seq-len 4 --steps 3 \
  --eval-every 1 --quiet --save "$tmp/gru_lm.safetensors" 2>/dev/null
"$recur" train --task lm --text "$tmp/text.txt" --cell lstm --hidden 2 --batch 2 --seq-len 3 --steps 2 --quiet \
  --save "$tmp/lstm_lm.safetensors" 2>/dev/null
for m in rnn lstm_bi gru_lm lstm_lm; do
  cp "$tmp/$m.safetensors" "$out/safetensors/seed-$m"
  cp "$tmp/$m.safetensors.ckpt" "$out/checkpoint/seed-$m"
  # The JSON header alone.
  n=$(od -An -t u8 -N 8 "$tmp/$m.safetensors" | tr -d ' ')
  tail -c +9 "$tmp/$m.safetensors" | head -c "$n" > "$out/model_metadata/seed-$m"
done
cp tests/fixtures/torch/rnn_tanh_l1_uni_onehot.safetensors "$out/safetensors/seed-torch-fixture"

# Labelled data: the first byte holds the loader's options (tests/fuzz/data_common.hpp).
{ printf '\x00'; cat data/seed_test.tsv; } > "$out/tsv/seed-plain"
printf '\x01\xEF\xBB\xBFgood movie\tpos\r\n\r\nno tab here\nbad \xC3\x28\tneg\na\tb\tc\nok\tneg\n' > "$out/tsv/seed-skip-bad"
printf '\x08short\tpos\nthis line is longer than eight bytes\tneg\n' > "$out/tsv/seed-limit"
printf '\x00text,label\n"quoted, with comma",pos\n"line\nbreak ""quote""",neg\nplain,pos\r\n\n' > "$out/csv/seed-header"
printf '\x52label,text\npos,good\nneg,"bad, bad"\n' > "$out/csv/seed-indices-header"
printf '\x51good,pos\n"unclosed,neg\n' > "$out/csv/seed-skip-unclosed"
printf '\x00{"text": "good \\u00e9t\\u00e9", "label": "pos"}\n{"text": "bad", "label": 0}\n\n{"text": "x", "label": true}\n' > "$out/jsonl/seed-plain"
printf '\x01{"text": 1, "label": "pos"}\nnot json\n{"text": "ok", "label": "neg"}\n[1, 2]\n' > "$out/jsonl/seed-skip-bad"

# Text: valid and invalid UTF-8, composed and decomposed letters, case folding.
printf 'plain ascii text' > "$out/utf8/seed-ascii"
printf 'caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80 \xEF\xBB\xBF' > "$out/utf8/seed-multibyte"
printf 'bad \xC3\x28 \xED\xA0\x80 \xF4\x90\x80\x80 \xC0\xAF \xE2\x82' > "$out/utf8/seed-invalid"
printf 'i am very happy' > "$out/tokenizers/seed-words"
printf "good. bad!  two  spaces\ttab\nline don't" > "$out/tokenizers/seed-punctuation"
printf 'caf\xC3\xA9 cafe\xCC\x81 \xF0\x9F\x98\x80' > "$out/tokenizers/seed-unicode"
printf 'Cafe\xCC\x81 CAF\xC3\x89 Stra\xC3\x9Fe \xCE\xA3\xCE\x8A\xCE\xA3\xCE\xA5\xCE\xA6\xCE\x9F\xCE\xA3 \xEF\xAC\x81 \xC7\x84' > "$out/normalize/seed-latin-greek"
printf '\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB A\xCC\x8A \xE2\x84\xAB' > "$out/normalize/seed-compose"
printf 'ascii ONLY' > "$out/normalize/seed-ascii"
printf 'bad \xFF' > "$out/normalize/seed-invalid"
for t in safetensors checkpoint model_metadata tsv csv jsonl utf8 tokenizers normalize; do
  echo "$t: $(ls "$out/$t" | wc -l) files, $(cat "$out/$t"/* | wc -c) bytes"
done
