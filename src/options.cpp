// Training settings: presets, defaults and checks (include/recur/options.hpp).
#include "recur/options.hpp"
#include "recur/subwords.hpp"

#include <algorithm>
#include <functional>
#include <vector>

#include "recur/config.hpp"
#include "recur/error.hpp"
#include "recur/model.hpp"
#include "recur/optim.hpp"

namespace recur {

std::string TrainOptions::checkpoint_path() const {
  if (!checkpoint.empty()) return checkpoint;
  if (!save.empty()) return save + ".ckpt";
  return "recur-train.ckpt";
}

int TrainOptions::evaluation_every() const { return log_every > 0 ? log_every : std::max(1, epochs / 10); }

void apply_defaults(TrainOptions& a, const std::set<std::string>& given) {
  struct D {
    const char* name;
    std::function<void()> set;
  };
  auto apply = [&](const std::vector<D>& ds) {
    for (const auto& d : ds)
      if (!given.count(d.name)) d.set();
  };
  if (a.subwords == "none") a.subwords.clear();
  if (a.preset == "sentiment") {  // chosen by 10-fold cross-validation on the UCI sentences (docs/benchmarks.md)
    a.task = "classify";
    apply({{"tokenizer", [&] { a.tokenizer = "word"; }},
           {"lowercase", [&] { a.lowercase = true; }},
           {"min-count", [&] { a.min_count = 2; }},
           {"cell", [&] { a.cell = "lstm"; }},
           {"embed", [&] { a.embed = 64; }},
           {"hidden", [&] { a.hidden = 64; }},
           {"bidirectional", [&] { a.bidirectional = true; }},
           {"bias-hh", [&] { a.bias_hh = true; }},
           {"pool", [&] { a.pool = "max"; }},
           {"word-dropout", [&] { a.word_dropout = 0.1; }},
           {"embed-dropout", [&] { a.embed_dropout = 0.2; }},
           {"subwords", [&] { if (!given.count("init-from")) a.subwords = "3-6"; }},  // a language model has none
           {"buckets", [&] { a.buckets = 20000; }},
           {"sparse-embedding", [&] { a.sparse_embedding = true; }},
           {"init", [&] { a.init = "pytorch"; }},
           {"optimizer", [&] { a.optimizer = "adam"; }},
           {"lr", [&] { a.lr = 2e-3; }},
           {"clip", [&] { a.clip = 0; }},
           {"clip-norm", [&] { a.clip_norm = 5; }},
           {"batch", [&] { a.batch = 16; }},
           {"epochs", [&] { a.epochs = 20; }},
           {"log-every", [&] { a.log_every = 1; }},
           {"valid-fraction", [&] { if (!given.count("valid")) a.valid_fraction = 0.1; }},
           {"patience", [&] { a.patience = 4; }}});
    return;
  }
  if (a.preset == "g2p" || a.task == "seq2seq") {
    a.task = "seq2seq";
    std::vector<D> ds = {
        {"cell", [&] { a.cell = "lstm"; }},         {"layers", [&] { a.layers = 1; }},
        {"hidden", [&] { a.hidden = 128; }},        {"embed", [&] { a.embed = 64; }},
        {"bidirectional", [&] { a.bidirectional = true; }},
        {"bias-hh", [&] { a.bias_hh = true; }},     {"init", [&] { a.init = "pytorch"; }},
        {"optimizer", [&] { a.optimizer = "adam"; }},
        {"lr", [&] { a.lr = 2e-3; }},               {"clip", [&] { a.clip = 0; }},
        {"clip-norm", [&] { a.clip_norm = 5; }},    {"batch", [&] { a.batch = 32; }},
        {"epochs", [&] { a.epochs = 10; }},         {"log-every", [&] { a.log_every = 1; }},
    };
    if (a.preset == "g2p") {  // chosen on the CMU dictionary's validation words (docs/seq2seq.md)
      const std::vector<D> g2p = {
          {"src-tokenizer", [&] { a.src_tokenizer = "char"; }},
          {"tgt-tokenizer", [&] { a.tgt_tokenizer = "symbols"; }},
          {"lowercase", [&] { a.lowercase = true; }},
          {"layers", [&] { a.layers = 2; }},          // the encoder's
          {"dec-layers", [&] { a.dec_layers = 1; }},
          {"dropout", [&] { a.dropout = 0.1; }},
          {"lr", [&] { a.lr = 1e-3; }},  // 2e-3 ended 2.1 points of test WER behind
          // Two ranks on threads of 32 pairs each: batches of 64, on both cores
          // (each rank's products on the rows kernel); under mpirun the
          // processes are the ranks instead.
          {"threads", [&] { a.threads = 2, a.threads_by_preset = true; }},
          {"batch", [&] { a.batch = 32; }},
          // Two models trained together and saved as one ensemble: 24.90% /
          // 5.87% test WER / PER in 42.7 min, where one model alone of 26
          // epochs scored 26.44% / 6.28% (docs/seq2seq.md).
          {"members", [&] { a.members = 2; }},
          {"epochs", [&] { a.epochs = 24; }},
          {"log-every", [&] { a.log_every = 3; }},  // (a validation takes the ensemble 8 s)
          {"schedule", [&] { a.schedule = "cosine"; }},
          {"valid-fraction", [&] { if (!given.count("valid")) a.valid_fraction = 0.05; }},
      };
      for (const D& d : g2p) {
        if (!given.count(d.name)) d.set();
        ds.erase(std::remove_if(ds.begin(), ds.end(), [&](const D& x) { return std::string(x.name) == d.name; }),
                 ds.end());
      }
    }
    apply(ds);
    return;
  }
  if (!a.preset.empty() && !given.count("task")) a.task = "lm";
  if (a.task != "lm") return;
  // A language model's defaults: LSTM 2x128, Adam 2e-3, global-norm clipping 5.
  const std::vector<D> lm_defaults = {
      {"cell", [&] { a.cell = "lstm"; }},       {"layers", [&] { a.layers = 2; }},
      {"hidden", [&] { a.hidden = 128; }},      {"batch", [&] { a.batch = 32; }},
      {"seq-len", [&] { a.seq_len = 64; }},     {"optimizer", [&] { a.optimizer = "adam"; }},
      {"lr", [&] { a.lr = 2e-3; }},             {"clip", [&] { a.clip = 0; }},
      {"clip-norm", [&] { a.clip_norm = 5; }},  {"init", [&] { a.init = "pytorch"; }},
      {"bias-hh", [&] { a.bias_hh = true; }},
  };
  std::vector<D> preset;
  if (a.preset == "min-char-rnn")  // Karpathy's min-char-rnn
    preset = {{"cell", [&] { a.cell = "rnn"; }},         {"layers", [&] { a.layers = 1; }},
              {"hidden", [&] { a.hidden = 100; }},       {"seq-len", [&] { a.seq_len = 25; }},
              {"batch", [&] { a.batch = 1; }},           {"optimizer", [&] { a.optimizer = "adagrad"; }},
              {"lr", [&] { a.lr = 0.1; }},               {"clip", [&] { a.clip = 5; }},
              {"clip-norm", [&] { a.clip_norm = 0; }},   {"init", [&] { a.init = "normal"; }},
              {"bias-hh", [&] { a.bias_hh = false; }}};
  else if (a.preset == "char-rnn")  // char-rnn's defaults
    preset = {{"cell", [&] { a.cell = "lstm"; }},        {"layers", [&] { a.layers = 2; }},
              {"hidden", [&] { a.hidden = 128; }},       {"seq-len", [&] { a.seq_len = 50; }},
              {"batch", [&] { a.batch = 50; }},          {"optimizer", [&] { a.optimizer = "rmsprop"; }},
              {"lr", [&] { a.lr = 2e-3; }},              {"clip", [&] { a.clip = 5; }},
              {"clip-norm", [&] { a.clip_norm = 0; }}};
  apply(preset);
  for (const auto& d : lm_defaults)
    if (!given.count(d.name) &&
        std::none_of(preset.begin(), preset.end(), [&](const D& p) { return std::string(p.name) == d.name; }))
      d.set();
}

void check(const TrainOptions& a) {
  if (a.task != "classify" && a.task != "lm" && a.task != "seq2seq")
    throw Error("unknown task '" + a.task + "' (known: classify, lm, seq2seq)");
  if (!a.preset.empty() && a.preset != "sentiment" && a.preset != "min-char-rnn" && a.preset != "char-rnn" &&
      a.preset != "g2p")
    throw Error("unknown preset '" + a.preset + "' (known: sentiment, min-char-rnn, char-rnn, g2p)");
  cell_from_name(a.cell);
  init_from_string(a.init);
  optimizer_from_string(a.optimizer);
  schedule_from_string(a.schedule);
  tokenizer_from_string(a.tokenizer_or_default());
  if (a.dtype != "f32" && a.dtype != "f64") throw Error("unknown dtype '" + a.dtype + "' (known: f32, f64)");
  if (a.hidden < 1) throw Error("--hidden must be at least 1");
  if (a.layers < 1 || a.layers > kMaxLayers) throw Error("--layers must be in [1, " + std::to_string(kMaxLayers) + "]");
  if (!(a.lr > 0)) throw Error("--lr must be positive");
  if (!(a.clip >= 0)) throw Error("--clip must be >= 0 (0 turns clipping off)");
  if (!(a.clip_norm >= 0)) throw Error("--clip-norm must be >= 0 (0 turns it off)");
  if (a.on_nonfinite != "stop" && a.on_nonfinite != "skip")
    throw Error("unknown --on-nonfinite '" + a.on_nonfinite + "' (known: stop, skip)");
  if (a.batch < 1) throw Error("--batch must be at least 1");
  if (a.accumulate < 1) throw Error("--accumulate must be at least 1");
  if (a.threads < 1 || a.threads > 64) throw Error("--threads must be in [1, 64]");
  if (a.embed < 0) throw Error("--embed must be >= 0 (0 = one-hot input)");
  if (!(a.dropout >= 0 && a.dropout < 1)) throw Error("--dropout must be in [0, 1)");
  if (!(a.label_smoothing >= 0 && a.label_smoothing < 1)) throw Error("--label-smoothing must be in [0, 1)");
  if (!(a.average >= 0 && a.average < 1)) throw Error("--average must be in [0, 1) (0 = off; 0.999: about the last 1000 steps)");
  if (!(a.weight_decay >= 0)) throw Error("--weight-decay must be >= 0");
  if (!(a.valid_fraction >= 0 && a.valid_fraction < 1)) throw Error("--valid-fraction must be in [0, 1)");
  if (a.patience < 0) throw Error("--patience must be >= 0");
  if (a.min_count < 1) throw Error("--min-count must be at least 1");
  if (a.max_vocab < 0) throw Error("--max-vocab must be >= 0 (0 = no limit)");
  if (a.checkpoint_every < 0) throw Error("--checkpoint-every must be >= 0");
  if (a.dtype == "f64" && (!a.resume.empty() || !a.checkpoint.empty()))
    throw Error("--dtype f64 runs do not checkpoint or resume");
  if (a.task != "classify" && a.pool != "last")
    throw Error("--pool: pooling over time is for classifiers (--task classify)");
  pool_from_string(a.pool);
  if (a.task != "classify" && (a.word_dropout > 0 || a.embed_dropout > 0))
    throw Error(std::string(a.word_dropout > 0 ? "--word-dropout" : "--embed-dropout") + ": for classifiers (--task classify)");
  if (!(a.word_dropout >= 0 && a.word_dropout < 1)) throw Error("--word-dropout must be in [0, 1)");
  if (!(a.embed_dropout >= 0 && a.embed_dropout < 1)) throw Error("--embed-dropout must be in [0, 1)");
  if (a.embed_dropout > 0 && a.embed == 0) throw Error("--embed-dropout needs an embedding (--embed N)");
  if (a.task != "classify" && (!a.vectors.empty() || a.vectors_vocab || a.freeze_embedding))
    throw Error("--vectors, --vectors-vocab and --freeze-embedding are for classifiers (--task classify)");
  if (a.vectors_vocab && a.vectors.empty()) throw Error("--vectors-vocab needs --vectors FILE");
  if (!a.init_from.empty() && a.task != "classify") throw Error("--init-from: for classifiers (--task classify)");
  if (!a.init_from.empty() && !a.vectors.empty()) throw Error("give --vectors or --init-from, not both");
  if ((!a.vectors.empty() || a.freeze_embedding) && a.embed == 0)
    throw Error(std::string(a.vectors.empty() ? "--freeze-embedding" : "--vectors") + " needs an embedding (--embed N)");
  if (a.sparse_embedding && (a.task != "classify" || a.embed == 0))
    throw Error("--sparse-embedding: for classifiers with an embedding (--task classify --embed N)");
  if (!a.subwords.empty()) {
    if (a.task != "classify") throw Error("--subwords: for classifiers (--task classify)");
    if (a.embed == 0) throw Error("--subwords needs an embedding (--embed N)");
    if (!a.init_from.empty()) throw Error("--subwords: a language model (--init-from) has no subword rows to start them from");
    subword_spec(a.subwords, a.buckets);
  }
  if (a.task != "seq2seq" && a.members != 1)
    throw Error("--members: models trained together as an ensemble are sequence-to-sequence models (--task seq2seq)");
  if (a.task == "seq2seq") {
    if (a.epochs < 1) throw Error("--epochs must be at least 1");
    tokenizer_from_string(a.source_tokenizer());
    tokenizer_from_string(a.target_tokenizer());
    if (tokenizer_from_string(a.source_tokenizer()) == TokenizerKind::whitespace ||
        tokenizer_from_string(a.target_tokenizer()) == TokenizerKind::whitespace)
      throw Error("--src-tokenizer/--tgt-tokenizer: whitespace (the seed's split on single spaces) makes empty "
                  "tokens of double spaces; use symbols, word or char");
    attention_from_string(a.attention);
    if (!a.dec_cell.empty()) cell_from_name(a.dec_cell);
    if (a.dec_layers < 0) throw Error("--dec-layers must be at least 1 (0: --layers)");
    if (a.dec_hidden < 0) throw Error("--dec-hidden must be at least 1 (0: --hidden x directions)");
    if (a.dec_embed < -1) throw Error("--dec-embed must be >= 0 (0: one-hot; default: --embed)");
    if (a.max_length < 1) throw Error("--max-length must be at least 1");
    if (a.members < 1 || a.members > 64) throw Error("--members must be in [1, 64]");
    if (a.init != "pytorch") throw Error("--init: a sequence-to-sequence model is initialised as PyTorch's modules are (pytorch)");
    if (a.dtype != "f32") throw Error("--dtype: a sequence-to-sequence model trains in f32");
    return;
  }
  if (a.task == "lm") {
    if (a.bidirectional) throw Error("--bidirectional: a language model reads left to right");
    if (a.steps < 1) throw Error("--steps must be at least 1");
    if (a.seq_len < 1) throw Error("--seq-len must be at least 1");
    if (tokenizer_from_string(a.tokenizer_or_default()) == TokenizerKind::chr) return;
  } else {
    if (a.epochs < 1) throw Error("--epochs must be at least 1");
    if (tokenizer_from_string(a.tokenizer_or_default()) == TokenizerKind::chr)
      throw Error("--tokenizer char is for --task lm");
  }
}

}  // namespace recur
