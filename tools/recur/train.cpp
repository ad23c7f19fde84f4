// recur train — train a classifier (with no data flag: the seed experiment) or,
// with --task lm, a language model (train_lm.cpp).
#include <cstdio>
#include <iostream>
#include <algorithm>
#include <functional>
#include <memory>
#include <type_traits>

#include "classify.hpp"
#include "common.hpp"
#include "train_args.hpp"

namespace recur_cli {

void check_common(const TrainArgs& a) {
  if (a.hidden < 1) throw recur::Error("--hidden must be at least 1");
  if (a.layers < 1) throw recur::Error("--layers must be at least 1");
  if (!(a.lr > 0)) throw recur::Error("--lr must be positive");
  if (!(a.clip >= 0)) throw recur::Error("--clip must be >= 0 (0 turns clipping off)");
  if (!(a.clip_norm >= 0)) throw recur::Error("--clip-norm must be >= 0 (0 turns it off)");
  if (a.batch < 1) throw recur::Error("--batch must be at least 1");
  if (a.embed < 0) throw recur::Error("--embed must be >= 0 (0 = one-hot input)");
  if (!(a.dropout >= 0 && a.dropout < 1)) throw recur::Error("--dropout must be in [0, 1)");
  if (!(a.weight_decay >= 0)) throw recur::Error("--weight-decay must be >= 0");
}

recur::StepOptions step_options(const TrainArgs& a) {
  recur::StepOptions s;
  s.lr = a.lr;
  s.optimizer.kind = recur::optimizer_from_string(a.optimizer);
  s.optimizer.momentum = a.momentum;
  s.optimizer.nesterov = a.nesterov;
  s.optimizer.weight_decay = a.weight_decay;
  s.schedule.kind = recur::schedule_from_string(a.schedule);
  s.schedule.step_size = a.step_size;
  s.schedule.gamma = a.gamma;
  s.clip = a.clip;
  s.clip_norm = a.clip_norm;
  return s;
}

// Presets and the language model's defaults fill in every flag not given.
void apply_defaults(TrainArgs& a, const CLI::App& cmd) {
  auto unset = [&](const char* flag) {  // (a flag this command does not have counts as not given)
    const CLI::Option* o = cmd.get_option_no_throw(flag);
    return o == nullptr || o->count() == 0;
  };
  struct D {
    const char* flag;
    std::function<void()> set;
  };
  auto apply = [&](const std::vector<D>& ds) {
    for (const auto& d : ds)
      if (unset(d.flag)) d.set();
  };
  if (a.preset == "sentiment") {  // chosen by 10-fold cross-validation on the UCI sentences (docs/benchmarks.md)
    a.task = "classify";
    apply({{"--tokenizer", [&] { a.tokenizer = "word", a.tokenizer_given = true; }},
           {"--lowercase", [&] { a.lowercase = true; }},
           {"--min-count", [&] { a.min_count = 2; }},
           {"--cell", [&] { a.cell = "lstm"; }},
           {"--embed", [&] { a.embed = 64; }},
           {"--hidden", [&] { a.hidden = 64; }},
           {"--bidirectional", [&] { a.bidirectional = true; }},
           {"--bias-hh", [&] { a.bias_hh = true; }},
           {"--init", [&] { a.init = "pytorch"; }},
           {"--optimizer", [&] { a.optimizer = "adam"; }},
           {"--lr", [&] { a.lr = 2e-3; }},
           {"--clip", [&] { a.clip = 0; }},
           {"--clip-norm", [&] { a.clip_norm = 5; }},
           {"--batch", [&] { a.batch = 16; }},
           {"--epochs", [&] { a.epochs = 20; }},
           {"--log-every", [&] { a.log_every = 1; }},
           {"--valid-fraction", [&] { if (a.valid.empty()) a.valid_fraction = 0.1; }},
           {"--patience", [&] { a.patience = 4; }}});
    return;
  }
  if (!a.preset.empty() && unset("--task")) a.task = "lm";
  if (a.task != "lm") return;
  // A language model's defaults: LSTM 2x128, Adam 2e-3, global-norm clipping 5.
  const std::vector<D> lm_defaults = {
      {"--cell", [&] { a.cell = "lstm"; }},       {"--layers", [&] { a.layers = 2; }},
      {"--hidden", [&] { a.hidden = 128; }},      {"--batch", [&] { a.batch = 32; }},
      {"--seq-len", [&] { a.seq_len = 64; }},     {"--optimizer", [&] { a.optimizer = "adam"; }},
      {"--lr", [&] { a.lr = 2e-3; }},             {"--clip", [&] { a.clip = 0; }},
      {"--clip-norm", [&] { a.clip_norm = 5; }},  {"--init", [&] { a.init = "pytorch"; }},
      {"--bias-hh", [&] { a.bias_hh = true; }},
  };
  std::vector<D> preset;
  if (a.preset == "min-char-rnn")  // Karpathy's min-char-rnn
    preset = {{"--cell", [&] { a.cell = "rnn"; }},         {"--layers", [&] { a.layers = 1; }},
              {"--hidden", [&] { a.hidden = 100; }},       {"--seq-len", [&] { a.seq_len = 25; }},
              {"--batch", [&] { a.batch = 1; }},           {"--optimizer", [&] { a.optimizer = "adagrad"; }},
              {"--lr", [&] { a.lr = 0.1; }},               {"--clip", [&] { a.clip = 5; }},
              {"--clip-norm", [&] { a.clip_norm = 0; }}};
  else if (a.preset == "char-rnn")  // char-rnn's defaults
    preset = {{"--cell", [&] { a.cell = "lstm"; }},        {"--layers", [&] { a.layers = 2; }},
              {"--hidden", [&] { a.hidden = 128; }},       {"--seq-len", [&] { a.seq_len = 50; }},
              {"--batch", [&] { a.batch = 50; }},          {"--optimizer", [&] { a.optimizer = "rmsprop"; }},
              {"--lr", [&] { a.lr = 2e-3; }},              {"--clip", [&] { a.clip = 5; }},
              {"--clip-norm", [&] { a.clip_norm = 0; }}};
  apply(preset);
  for (const auto& d : lm_defaults)
    if (unset(d.flag) && std::none_of(preset.begin(), preset.end(), [&](const D& p) { return std::string(p.flag) == d.flag; }))
      d.set();
}

std::vector<std::pair<std::string, std::string>> settings_of(const TrainArgs& a) {
  auto num = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", x);
    return std::string(b);
  };
  std::vector<std::pair<std::string, std::string>> s;
  if (!a.preset.empty()) s.push_back({"--preset", a.preset});
  s.push_back({"--cell", a.cell});
  s.push_back({"--layers", std::to_string(a.layers)});
  s.push_back({"--hidden", std::to_string(a.hidden)});
  s.push_back({"--embed", a.embed ? std::to_string(a.embed) : "0 (one-hot)"});
  if (a.bidirectional) s.push_back({"--bidirectional", "yes"});
  if (a.dropout > 0) s.push_back({"--dropout", num(a.dropout)});
  s.push_back({"--tokenizer", a.tokenizer_given ? a.tokenizer : a.task == "lm" ? a.tokenizer : "whitespace"});
  if (a.lowercase) s.push_back({"--lowercase", "yes"});
  if (a.min_count > 1) s.push_back({"--min-count", std::to_string(a.min_count)});
  if (a.max_vocab > 0) s.push_back({"--max-vocab", std::to_string(a.max_vocab)});
  s.push_back({"--init", a.init});
  s.push_back({"--optimizer", a.optimizer});
  s.push_back({"--lr", num(a.lr)});
  if (a.weight_decay > 0) s.push_back({"--weight-decay", num(a.weight_decay)});
  if (a.schedule != "constant") s.push_back({"--schedule", a.schedule});
  s.push_back({"--clip", num(a.clip)});
  if (a.clip_norm > 0) s.push_back({"--clip-norm", num(a.clip_norm)});
  s.push_back({"--batch", std::to_string(a.batch)});
  if (a.task == "lm") {
    s.push_back({"--steps", std::to_string(a.steps)});
    s.push_back({"--seq-len", std::to_string(a.seq_len)});
  } else {
    s.push_back({"--epochs", std::to_string(a.epochs)});
  }
  if (a.patience > 0) s.push_back({"--patience", std::to_string(a.patience)});
  if (a.valid_fraction > 0) s.push_back({"--valid-fraction", num(a.valid_fraction)});
  s.push_back({"--seed", std::to_string(a.seed)});
  return s;
}

void add_train_flags(CLI::App* cmd, TrainArgs& a, bool cv) {
  const bool train = !cv;  // flags of recur train only: files written, test sets, language models
  if (cv) {
    cmd->add_option("--data,--train", a.train, "All the labelled data: TSV text<TAB>label (or CSV/JSONL, see --data-format)")
        ->check(CLI::ExistingFile);
  } else {
    cmd->add_option("--train", a.train, "Training data: TSV text<TAB>label per line (or CSV/JSONL, see --data-format)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--test", a.test, "Test data (same format), evaluated at every log line")->check(CLI::ExistingFile);
    cmd->add_option("--valid", a.valid, "Validation data: picks the best epoch's model and drives --patience")
        ->check(CLI::ExistingFile);
  }
  cmd->add_option("--valid-fraction", a.valid_fraction,
                  "Validate on this fraction held out of the training data (classify: stratified by label,\n"
                  "seeded by --seed; lm: the end of --text)")
      ->capture_default_str();
  if (train) cmd->add_option("--save", a.save, "Write the trained model here (safetensors)");
  cmd->add_option("--cell", a.cell, "Recurrent cell")
      ->check(CLI::IsMember({"rnn", "rnn_tanh", "rnn_relu", "lstm", "gru"}))
      ->capture_default_str();
  cmd->add_option("--layers", a.layers, "Stacked recurrent layers")->capture_default_str();
  cmd->add_option("--hidden", a.hidden, "Hidden size H")->capture_default_str();
  cmd->add_option("--embed", a.embed, "Embedding size E (0 = one-hot input, as the seed)")->capture_default_str();
  cmd->add_flag("--bidirectional", a.bidirectional, "Bidirectional recurrent layers");
  cmd->add_flag("--bias-hh", a.bias_hh, "A second bias b_hh per layer, as PyTorch has (default: the seed's single bias)");
  cmd->add_option("--dropout", a.dropout, "Dropout on every recurrent layer's outputs and the head's input (training only)")->capture_default_str();
  cmd->add_option("--init", a.init, "Initialisation")
      ->check(CLI::IsMember({"seed", "pytorch", "xavier", "orthogonal"}))
      ->capture_default_str();
  cmd->add_flag("--forget-bias", a.forget_bias, "LSTM: start the forget-gate bias at 1");
  cmd->add_option("--epochs", a.epochs, "Passes over the training data")->capture_default_str();
  cmd->add_option("--batch", a.batch, "Sequences per step (length-bucketed; 1 = the seed's per-example SGD)")
      ->capture_default_str();
  cmd->add_option("--optimizer", a.optimizer, "Optimizer")
      ->check(CLI::IsMember({"sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", a.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--momentum", a.momentum, "Momentum (optimizer momentum)")->capture_default_str();
  cmd->add_flag("--nesterov", a.nesterov, "Nesterov momentum");
  cmd->add_option("--weight-decay", a.weight_decay, "Weight decay (L2; decoupled for adamw)")->capture_default_str();
  cmd->add_option("--schedule", a.schedule, "Learning-rate schedule over the epochs")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--step-size", a.step_size, "step schedule: epochs between decays")->capture_default_str();
  cmd->add_option("--gamma", a.gamma, "step schedule: decay factor")->capture_default_str();
  cmd->add_option("--clip", a.clip, "Clip every gradient element to [-X, X] (0 = off)")->capture_default_str();
  cmd->add_option("--clip-norm", a.clip_norm, "Clip the gradients' global L2 norm to X (0 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", a.seed, "Random seed (weights and shuffling; numpy-compatible)")->capture_default_str();
  cmd->add_option("--dtype", a.dtype,
                  "Arithmetic: f32, or f64 as numpy does (reproduces bench/reference/seed_rnn.py's log)")
      ->check(CLI::IsMember({"f32", "f64"}))
      ->capture_default_str();
  cmd->add_option("--log-every", a.log_every,
                  "Evaluate and log every N epochs, and at the last (default: a tenth of --epochs)");
  cmd->add_flag("--quiet", a.quiet, "Print no log and no progress bar");
  if (train)
  cmd->add_option("--log-json", a.log_json, "Also write every evaluation to FILE as one JSON object per line");
  if (train)
  cmd->add_option("--report", a.report,
                  "Write an HTML report here at the end: loss and accuracy curves, confusion matrix, settings");
  if (train)
  cmd->add_option("--task", a.task, "classify (labelled text) or lm (a language model on plain text)")
      ->check(CLI::IsMember({"classify", "lm"}))
      ->capture_default_str();
  if (train)
  cmd->add_option("--text", a.text, "lm: the training text (UTF-8)")->check(CLI::ExistingFile);
  if (train)
  cmd->add_option("--valid-text", a.valid_text, "lm: validation text")->check(CLI::ExistingFile);
  cmd->add_option("--tokenizer", a.tokenizer,
                  "whitespace (the seed's split on single spaces; classify default), word (words and\n"
                  "punctuation), char (Unicode code points; lm default)")
      ->check(CLI::IsMember({"whitespace", "word", "char"}));
  cmd->add_flag("--lowercase", a.lowercase, "Lowercase the text (ASCII) before tokenizing; predict does the same");
  cmd->add_option("--min-count", a.min_count,
                  "classify: leave words seen fewer than N times out of the vocabulary; they and unseen\n"
                  "words become <unk>, which the model learns")
      ->capture_default_str();
  cmd->add_option("--max-vocab", a.max_vocab, "classify: keep only the N most frequent words (others become <unk>)")
      ->capture_default_str();
  add_data_flags(cmd, a.data);
  if (train)
  cmd->add_option("--checkpoint", a.checkpoint, "Checkpoint file (default: <save>.ckpt when --save is given)");
  if (train)
  cmd->add_option("--checkpoint-every", a.checkpoint_every,
                  "Write a checkpoint every N steps (0: at every log line and at the end)")
      ->capture_default_str();
  if (train)
  cmd->add_option("--resume", a.resume, "Continue the run a checkpoint holds (give the same other flags)")
      ->check(CLI::ExistingFile);
  if (train)
  cmd->add_option("--steps", a.steps, "lm: optimizer steps")->capture_default_str();
  if (train)
  cmd->add_option("--seq-len", a.seq_len, "lm: symbols per stream per step (truncated BPTT length)")
      ->capture_default_str();
  if (train)
  cmd->add_option("--eval-every", a.eval_every, "lm: steps between validations and log lines")->capture_default_str();
  cmd->add_option("--patience", a.patience,
                  "Stop after N evaluations without a better validation result (0 = never)")
      ->capture_default_str();
  if (train)
  cmd->add_option("--plateau-decay", a.plateau_decay, "lm: multiply the learning rate by X when validation does not improve")
      ->capture_default_str();
  cmd->add_option("--preset", a.preset,
                  "Settings of a known recipe; flags given explicitly win:\n"
                  "  sentiment     short labelled texts: words (lowercased, --min-count 2), embedding 64,\n"
                  "                bidirectional LSTM 64, Adam 2e-3, batch 16, up to 20 epochs with a\n"
                  "                tenth held out for early stopping (patience 4); chosen by 10-fold\n"
                  "                cross-validation on the UCI sentences (docs/benchmarks.md)\n"
                  "  min-char-rnn  vanilla RNN 100, seq 25, batch 1, Adagrad 0.1, clip 5 (lm)\n"
                  "  char-rnn      LSTM 2x128, seq 50, batch 50, RMSprop 2e-3, clip 5 (lm)")
      ->check(CLI::IsMember({"sentiment", "min-char-rnn", "char-rnn"}));
}

void setup_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a many-to-one classifier on labelled text.\n"
      "With no --train it runs the seed experiment: a vanilla RNN (hidden 64, weights\n"
      "randn/1000) on the built-in toy sentiment data, per-example SGD (lr 0.02, every\n"
      "gradient element clipped to [-1, 1]) for 1000 epochs, logging every 100.\n"
      "With --task lm it trains a language model on plain text.\n"
      "On a terminal a progress bar shows the epoch, loss, speed and time left.");
  add_train_flags(cmd, *a);
  cmd->callback([a, cmd] {
    TrainArgs args = *a;
    args.tokenizer_given = cmd->count("--tokenizer") > 0;
    apply_defaults(args, *cmd);
    if (args.task == "lm")
      train_lm_command(args);
    else {
      check_common(args);
      train_classify_command(args);
    }
  });
}

}  // namespace recur_cli
