// recur train — train a classifier (with no data flag: the seed experiment) or,
// with --task lm, a language model (train_lm.cpp).
#include <cstdio>
#include <iostream>
#include <algorithm>
#include <functional>
#include <memory>
#include <type_traits>

#include "common.hpp"

#include <nlohmann/json.hpp>
#include "recur/checkpoint.hpp"
#include "train_args.hpp"

namespace recur_cli {

namespace {

template <class T>
void run_classifier(const TrainArgs& a, const recur::ModelInfo& info, const recur::EncodedSet& train,
                    const recur::EncodedSet* test) {
  recur::Model<T> model(info.config);
  recur::Rng rng(a.seed);
  recur::init_weights(model, recur::init_from_string(a.init), rng, a.forget_bias);
  recur::TrainOptions opt;
  opt.epochs = a.epochs;
  opt.batch = a.batch;
  opt.step = step_options(a);
  opt.log_every = a.quiet && a.log_json.empty() ? 0 : a.log_every;
  recur::Optimizer<T> optimizer(opt.step.optimizer, model.weights().size());

  // Checkpoints (float32 runs; --dtype f64 is for reproducing numpy's arithmetic):
  // periodic, at the end, and on Ctrl-C.
  std::unique_ptr<recur::LoadedCheckpoint> ck;
  recur::ClassifierHooks hooks;
  if constexpr (std::is_same_v<T, float>) {
    if (!a.resume.empty()) {
      ck = resume_run(a.resume, info, model, optimizer);
      hooks.resume = &ck->state.point;
      std::fprintf(stderr, "recur: resuming %s at epoch %ld, step %ld\n", a.resume.c_str(), ck->state.point.epoch,
                   ck->state.point.position);
    }
    const std::string ckpt = checkpoint_path(a);
    hooks.after_step = [&, ckpt](long epoch, long position, bool epoch_end,
                                 const std::function<recur::RunPoint()>& at) {
      const bool stop = interrupted();
      const bool asked = !a.save.empty() || !a.checkpoint.empty();  // else only on Ctrl-C
      const bool periodic = a.checkpoint_every > 0 ? position % a.checkpoint_every == 0 && !epoch_end
                                                   : epoch_end && a.log_every > 0 && epoch % a.log_every == 0;
      if (stop || (asked && (periodic || (epoch_end && epoch == a.epochs)))) {
        recur::TrainingState state;
        state.point = at();
        recur::save_checkpoint(ckpt, model, info, optimizer, state);
      }
      if (stop) report_interrupt(ckpt, epoch, position);
      return !stop;
    };
  } else if (!a.resume.empty() || !a.checkpoint.empty()) {
    throw recur::Error("--dtype f64 runs do not checkpoint or resume");
  }
  JsonLog json_log(a.log_json);
  recur::train_classifier<T>(model, optimizer, train, test, opt, rng, [&](const recur::EpochLog& log) {
    if (!a.quiet) {
      std::fputs(recur::format_seed_log(log).c_str(), stdout);
      std::fflush(stdout);
    }
    nlohmann::ordered_json j;
    j["epoch"] = log.epoch;
    j["train_loss"] = log.train.loss;
    j["train_accuracy"] = log.train.accuracy;
    if (log.has_test) {
      j["test_loss"] = log.test.loss;
      j["test_accuracy"] = log.test.accuracy;
    }
    json_log.write(j.dump());
  }, hooks);
  if (interrupted()) throw Interrupted();
  if (!a.save.empty()) {
    recur::save_model(a.save, model, info);
    std::fprintf(stderr, "recur: saved model to %s\n", a.save.c_str());
  }
}

}  // namespace

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

namespace {

void train_command(const TrainArgs& a) {
  check_common(a);
  if (a.epochs < 1) throw recur::Error("--epochs must be at least 1");
  if (a.train.empty() && !a.test.empty()) throw recur::Error("--test needs --train");

  std::vector<recur::LabeledText> train_rows, test_rows;
  std::string train_name, test_name;
  if (a.train.empty()) {  // the seed experiment on the built-in data
    train_name = "<built-in>/seed_train.tsv";
    test_name = "<built-in>/seed_test.tsv";
    train_rows = recur::parse_tsv(kBuiltinTrain, train_name);
    test_rows = recur::parse_tsv(kBuiltinTest, test_name);
  } else {
    train_name = a.train;
    train_rows = load_data(a.train, a.data);
    if (!a.test.empty()) {
      test_name = a.test;
      test_rows = load_data(a.test, a.data);
    }
  }

  recur::ModelInfo info;
  info.tokenizer = recur::tokenizer_from_string(a.tokenizer_given ? a.tokenizer : "whitespace");
  if (info.tokenizer == recur::TokenizerKind::chr) throw recur::Error("--tokenizer char is for --task lm");
  info.lowercase = a.lowercase;
  for (auto* rows : {&train_rows, &test_rows})
    for (auto& r : *rows) r.text = normalize(r.text, info);
  info.vocab = recur::build_vocab(train_rows, info.tokenizer);
  info.labels = recur::sorted_labels(train_rows);
  if (info.labels.size() < 2)
    throw recur::Error(train_name + ": needs at least 2 distinct labels, found " +
                       std::to_string(info.labels.size()));
  auto& c = info.config;
  c.cell = recur::cell_from_name(a.cell);
  c.vocab = info.vocab.size();
  c.hidden = a.hidden;
  c.layers = a.layers;
  c.embed = a.embed;
  c.bidirectional = a.bidirectional;
  c.dropout = a.dropout;
  c.classes = int(info.labels.size());
  c.bias_hh = a.bias_hh;  // off: the seed's single bias b_h

  const recur::EncodedSet train = recur::encode_set(train_rows, info.vocab, info.tokenizer, info.labels, train_name);
  std::unique_ptr<recur::EncodedSet> test;
  if (!test_rows.empty()) {
    test = std::make_unique<recur::EncodedSet>(
        recur::encode_set(test_rows, info.vocab, info.tokenizer, info.labels, test_name));
    if (test->n_unknown)
      std::fprintf(stderr, "recur: %s: %ld words not in the training vocabulary (each given a zero input vector)\n",
                   test_name.c_str(), test->n_unknown);
  }
  if (!a.quiet) std::printf("%d unique words found\n", info.vocab.size());

  if (a.dtype == "f64")
    run_classifier<double>(a, info, train, test.get());
  else
    run_classifier<float>(a, info, train, test.get());
}

}  // namespace

// Presets and the language model's defaults fill in every flag not given.
void apply_defaults(TrainArgs& a, const CLI::App& cmd) {
  auto unset = [&](const char* flag) { return cmd.count(flag) == 0; };
  if (!a.preset.empty() && unset("--task")) a.task = "lm";
  if (a.task != "lm") return;
  // A language model's defaults: LSTM 2x128, Adam 2e-3, global-norm clipping 5.
  struct D {
    const char* flag;
    std::function<void()> set;
  };
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
  for (const auto& d : preset)
    if (unset(d.flag)) d.set();
  for (const auto& d : lm_defaults)
    if (unset(d.flag) && std::none_of(preset.begin(), preset.end(), [&](const D& p) { return std::string(p.flag) == d.flag; }))
      d.set();
}

void setup_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a many-to-one classifier on labelled text.\n"
      "With no --train it runs the seed experiment: a vanilla RNN (hidden 64, weights\n"
      "randn/1000) on the built-in toy sentiment data, per-example SGD (lr 0.02, every\n"
      "gradient element clipped to [-1, 1]) for 1000 epochs, logging every 100.");
  cmd->add_option("--train", a->train, "Training data, TSV: text<TAB>label per line")->check(CLI::ExistingFile);
  cmd->add_option("--test", a->test, "Test data (same format), evaluated at every log line")->check(CLI::ExistingFile);
  cmd->add_option("--save", a->save, "Write the trained model here (safetensors)");
  cmd->add_option("--cell", a->cell, "Recurrent cell")
      ->check(CLI::IsMember({"rnn", "rnn_tanh", "rnn_relu", "lstm", "gru"}))
      ->capture_default_str();
  cmd->add_option("--layers", a->layers, "Stacked recurrent layers")->capture_default_str();
  cmd->add_option("--hidden", a->hidden, "Hidden size H")->capture_default_str();
  cmd->add_option("--embed", a->embed, "Embedding size E (0 = one-hot input, as the seed)")->capture_default_str();
  cmd->add_flag("--bidirectional", a->bidirectional, "Bidirectional recurrent layers");
  cmd->add_flag("--bias-hh", a->bias_hh, "A second bias b_hh per layer, as PyTorch has (default: the seed's single bias)");
  cmd->add_option("--dropout", a->dropout, "Dropout between recurrent layers (training only)")->capture_default_str();
  cmd->add_option("--init", a->init, "Initialisation")
      ->check(CLI::IsMember({"seed", "pytorch", "xavier", "orthogonal"}))
      ->capture_default_str();
  cmd->add_flag("--forget-bias", a->forget_bias, "LSTM: start the forget-gate bias at 1");
  cmd->add_option("--epochs", a->epochs, "Passes over the training data")->capture_default_str();
  cmd->add_option("--batch", a->batch, "Sequences per step (length-bucketed; 1 = the seed's per-example SGD)")
      ->capture_default_str();
  cmd->add_option("--optimizer", a->optimizer, "Optimizer")
      ->check(CLI::IsMember({"sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", a->lr, "Learning rate")->capture_default_str();
  cmd->add_option("--momentum", a->momentum, "Momentum (optimizer momentum)")->capture_default_str();
  cmd->add_flag("--nesterov", a->nesterov, "Nesterov momentum");
  cmd->add_option("--weight-decay", a->weight_decay, "Weight decay (L2; decoupled for adamw)")->capture_default_str();
  cmd->add_option("--schedule", a->schedule, "Learning-rate schedule over the epochs")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--step-size", a->step_size, "step schedule: epochs between decays")->capture_default_str();
  cmd->add_option("--gamma", a->gamma, "step schedule: decay factor")->capture_default_str();
  cmd->add_option("--clip", a->clip, "Clip every gradient element to [-X, X] (0 = off)")->capture_default_str();
  cmd->add_option("--clip-norm", a->clip_norm, "Clip the gradients' global L2 norm to X (0 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Random seed (weights and shuffling; numpy-compatible)")->capture_default_str();
  cmd->add_option("--dtype", a->dtype,
                  "Arithmetic: f32, or f64 as numpy does (reproduces bench/reference/seed_rnn.py's log)")
      ->check(CLI::IsMember({"f32", "f64"}))
      ->capture_default_str();
  cmd->add_option("--log-every", a->log_every, "Log every N epochs")->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "Print no log");
  cmd->add_option("--log-json", a->log_json, "Also write every log line to FILE as one JSON object per line");
  cmd->add_option("--task", a->task, "classify (labelled text) or lm (a language model on plain text)")
      ->check(CLI::IsMember({"classify", "lm"}))
      ->capture_default_str();
  cmd->add_option("--text", a->text, "lm: the training text (UTF-8)")->check(CLI::ExistingFile);
  cmd->add_option("--valid-text", a->valid_text, "lm: validation text")->check(CLI::ExistingFile);
  cmd->add_option("--valid-fraction", a->valid_fraction, "lm: validate on this fraction from the end of --text")
      ->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer,
                  "whitespace (the seed's split on single spaces; classify default), word (words and\n"
                  "punctuation), char (Unicode code points; lm default)")
      ->check(CLI::IsMember({"whitespace", "word", "char"}));
  cmd->add_flag("--lowercase", a->lowercase, "Lowercase the text (ASCII) before tokenizing; predict does the same");
  add_data_flags(cmd, a->data);
  cmd->add_option("--checkpoint", a->checkpoint, "Checkpoint file (default: <save>.ckpt when --save is given)");
  cmd->add_option("--checkpoint-every", a->checkpoint_every,
                  "Write a checkpoint every N steps (0: at every log line and at the end)")
      ->capture_default_str();
  cmd->add_option("--resume", a->resume, "Continue the run a checkpoint holds (give the same other flags)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--steps", a->steps, "lm: optimizer steps")->capture_default_str();
  cmd->add_option("--seq-len", a->seq_len, "lm: symbols per stream per step (truncated BPTT length)")
      ->capture_default_str();
  cmd->add_option("--eval-every", a->eval_every, "lm: steps between validations and log lines")->capture_default_str();
  cmd->add_option("--patience", a->patience, "lm: stop after N validations without improvement (0 = never)")
      ->capture_default_str();
  cmd->add_option("--plateau-decay", a->plateau_decay, "lm: multiply the learning rate by X when validation does not improve")
      ->capture_default_str();
  cmd->add_option("--preset", a->preset,
                  "Settings of a known recipe; flags given explicitly win:\n"
                  "  min-char-rnn  vanilla RNN 100, seq 25, batch 1, Adagrad 0.1, clip 5 (lm)\n"
                  "  char-rnn      LSTM 2x128, seq 50, batch 50, RMSprop 2e-3, clip 5 (lm)")
      ->check(CLI::IsMember({"min-char-rnn", "char-rnn"}));
  cmd->callback([a, cmd] {
    TrainArgs args = *a;
    args.tokenizer_given = cmd->count("--tokenizer") > 0;
    apply_defaults(args, *cmd);
    if (args.task == "lm")
      train_lm_command(args);
    else
      train_command(args);
  });
}

}  // namespace recur_cli
