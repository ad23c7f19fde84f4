// recur train — train a classifier (with no data flag: the seed experiment) or,
// with --task lm, a language model: the flags, shared with recur cv.
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "recur/mpi.hpp"

namespace recur_cli {

std::set<std::string> given_flags(const CLI::App& cmd) {
  std::set<std::string> given;
  for (const CLI::Option* o : cmd.get_options())
    if (o->count() > 0)
      for (const std::string& name : o->get_lnames()) given.insert(name);
  return given;
}

std::vector<std::pair<std::string, std::string>> settings_of(const TrainArgs& a) {
  auto num = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", x);
    return std::string(b);
  };
  std::vector<std::pair<std::string, std::string>> s;
  if (!a.o.preset.empty()) s.push_back({"--preset", a.o.preset});
  s.push_back({"--cell", a.o.cell});
  s.push_back({"--layers", std::to_string(a.o.layers)});
  s.push_back({"--hidden", std::to_string(a.o.hidden)});
  s.push_back({"--embed", a.o.embed ? std::to_string(a.o.embed) : "0 (one-hot)"});
  if (a.o.bidirectional) s.push_back({"--bidirectional", "yes"});
  if (a.o.dropout > 0) s.push_back({"--dropout", num(a.o.dropout)});
  if (a.o.pool != "last") s.push_back({"--pool", a.o.pool});
  if (a.o.word_dropout > 0) s.push_back({"--word-dropout", num(a.o.word_dropout)});
  if (a.o.embed_dropout > 0) s.push_back({"--embed-dropout", num(a.o.embed_dropout)});
  if (!a.o.vectors.empty()) s.push_back({"--vectors", a.o.vectors + (a.o.vectors_vocab ? " (+ its words)" : "")});
  if (a.o.freeze_embedding) s.push_back({"--freeze-embedding", "yes"});
  if (!a.o.init_from.empty()) s.push_back({"--init-from", a.o.init_from});
  if (a.o.sparse_embedding) s.push_back({"--sparse-embedding", "yes"});
  if (!a.o.subwords.empty()) s.push_back({"--subwords", a.o.subwords + " (" + std::to_string(a.o.buckets) + " buckets)"});
  s.push_back({"--tokenizer", a.o.tokenizer_or_default()});
  if (a.o.lowercase) s.push_back({"--lowercase", "yes"});
  if (a.o.min_count > 1) s.push_back({"--min-count", std::to_string(a.o.min_count)});
  if (a.o.max_vocab > 0) s.push_back({"--max-vocab", std::to_string(a.o.max_vocab)});
  s.push_back({"--init", a.o.init});
  s.push_back({"--optimizer", a.o.optimizer});
  s.push_back({"--lr", num(a.o.lr)});
  if (a.o.weight_decay > 0) s.push_back({"--weight-decay", num(a.o.weight_decay)});
  if (a.o.schedule != "constant") s.push_back({"--schedule", a.o.schedule});
  s.push_back({"--clip", num(a.o.clip)});
  if (a.o.clip_norm > 0) s.push_back({"--clip-norm", num(a.o.clip_norm)});
  if (a.o.label_smoothing > 0) s.push_back({"--label-smoothing", num(a.o.label_smoothing)});
  if (a.o.average > 0) s.push_back({"--average", num(a.o.average)});
  s.push_back({"--batch", std::to_string(a.o.batch)});
  if (a.o.accumulate > 1) s.push_back({"--accumulate", std::to_string(a.o.accumulate)});
  if (a.o.threads > 1) s.push_back({"--threads", std::to_string(a.o.threads)});
  if (recur::launched_ranks() > 1) s.push_back({"processes (mpirun -np)", std::to_string(recur::launched_ranks())});
  if (a.o.task == "seq2seq") {
    s.push_back({"--src-tokenizer", a.o.source_tokenizer()});
    s.push_back({"--tgt-tokenizer", a.o.target_tokenizer()});
    s.push_back({"--attention", a.o.attention + (a.o.input_feeding ? " (input feeding)" : "")});
    if (!a.o.dec_cell.empty()) s.push_back({"--dec-cell", a.o.dec_cell});
    if (a.o.dec_layers) s.push_back({"--dec-layers", std::to_string(a.o.dec_layers)});
    if (a.o.dec_hidden) s.push_back({"--dec-hidden", std::to_string(a.o.dec_hidden)});
    if (a.o.dec_embed >= 0) s.push_back({"--dec-embed", std::to_string(a.o.dec_embed)});
    if (a.o.members > 1) s.push_back({"--members", std::to_string(a.o.members)});
  }
  if (a.o.task == "lm") {
    s.push_back({"--steps", std::to_string(a.o.steps)});
    s.push_back({"--seq-len", std::to_string(a.o.seq_len)});
  } else {
    s.push_back({"--epochs", std::to_string(a.o.epochs)});
  }
  if (a.o.patience > 0) s.push_back({"--patience", std::to_string(a.o.patience)});
  if (a.o.valid_fraction > 0) s.push_back({"--valid-fraction", num(a.o.valid_fraction)});
  s.push_back({"--seed", std::to_string(a.o.seed)});
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
  cmd->add_option("--valid-fraction", a.o.valid_fraction,
                  "Validate on this fraction held out of the training data (classify: stratified by label,\n"
                  "seeded by --seed; lm: the end of --text)")
      ->capture_default_str();
  if (train) cmd->add_option("--save", a.o.save, "Write the trained model here (safetensors)");
  cmd->add_option("--cell", a.o.cell, "Recurrent cell")
      ->check(CLI::IsMember({"rnn", "rnn_tanh", "rnn_relu", "lstm", "gru"}))
      ->capture_default_str();
  cmd->add_option("--layers", a.o.layers, "Stacked recurrent layers")->capture_default_str();
  cmd->add_option("--hidden", a.o.hidden, "Hidden size H")->capture_default_str();
  cmd->add_option("--embed", a.o.embed, "Embedding size E (0 = one-hot input, as the seed)")->capture_default_str();
  cmd->add_flag("--bidirectional", a.o.bidirectional, "Bidirectional recurrent layers");
  cmd->add_flag("--bias-hh", a.o.bias_hh, "A second bias b_hh per layer, as PyTorch has (default: the seed's single bias)");
  cmd->add_option("--dropout", a.o.dropout, "Dropout on every recurrent layer's outputs and the head's input (training only)")->capture_default_str();
  cmd->add_option("--pool", a.o.pool,
                  "classify: what the head reads: the final states (last, the seed's), or the top layer's\n"
                  "outputs at every step pooled by mean, max or attention (a learned query; docs/bptt.md)")
      ->check(CLI::IsMember({"last", "mean", "max", "attention"}))
      ->capture_default_str();
  cmd->add_option("--word-dropout", a.o.word_dropout,
                  "classify: read each training token as the unknown word (<unk>, or the zero input) with\n"
                  "this probability")
      ->capture_default_str();
  cmd->add_option("--embed-dropout", a.o.embed_dropout,
                  "classify: dropout on the elements of the embedded input (training only; needs --embed)")
      ->capture_default_str();
  cmd->add_option("--vectors", a.o.vectors,
                  "classify: start the embedding from pretrained word vectors (word2vec/fastText text format,\n"
                  "a header 'N D' then 'word v1 ... vD'; D must be --embed)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--vectors-vocab", a.o.vectors_vocab,
                "classify: add the words of --vectors to the vocabulary, so the model knows them at predict time");
  cmd->add_flag("--freeze-embedding", a.o.freeze_embedding, "classify: keep the embedding as initialized (not trained)");
  cmd->add_option("--init-from", a.o.init_from,
                  "classify: start from a language model (recur train --task lm with the same --tokenizer,\n"
                  "--lowercase, --cell, --embed, --hidden, --layers): its vocabulary, embedding and layers, then\n"
                  "fine-tune (Dai & Le 2015)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--subwords", a.o.subwords,
                  "classify: read each word as the mean of its embedding and its character n-grams of these\n"
                  "lengths (MIN-MAX, e.g. 3-6, as fastText), so a word outside the vocabulary still has a vector\n"
                  "(none: words only, e.g. to leave out --preset sentiment's)");
  cmd->add_option("--buckets", a.o.buckets, "classify with --subwords: rows the n-grams are hashed into")
      ->capture_default_str();
  cmd->add_flag("--sparse-embedding", a.o.sparse_embedding,
                "classify: each step updates only the embedding (and subword) rows it read, moments included\n"
                "(PyTorch's sparse embedding with SparseAdam): a step costs what it read, not the table's size");
  cmd->add_option("--init", a.o.init, "Initialisation")
      ->check(CLI::IsMember({"seed", "pytorch", "xavier", "orthogonal", "normal"}))
      ->capture_default_str();
  cmd->add_flag("--forget-bias", a.o.forget_bias, "LSTM: start the forget-gate bias at 1");
  cmd->add_option("--epochs", a.o.epochs, "Passes over the training data")->capture_default_str();
  cmd->add_option("--batch", a.o.batch,
                  "Sequences per step (length-bucketed; 1 = the seed's per-example SGD); lm: streams.\n"
                  "Under mpirun -np N, per process: a step takes N x --batch x --accumulate")
      ->capture_default_str();
  cmd->add_option("--threads", a.o.threads,
                  "Data parallel on N threads of this process, as mpirun -np N on N processes: each thread\n"
                  "trains on --batch sequences of every step (a step takes N x --batch x --accumulate) with\n"
                  "one BLAS thread; the gradients are summed before each optimizer step (docs/distributed.md)")
      ->capture_default_str();
  cmd->add_option("--accumulate", a.o.accumulate,
                  "Gradient accumulation: add the gradients of K batches of --batch before each optimizer\n"
                  "step, which then equals one step on a batch of K x --batch (up to rounding)")
      ->capture_default_str();
  cmd->add_option("--optimizer", a.o.optimizer, "Optimizer")
      ->check(CLI::IsMember({"sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", a.o.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--momentum", a.o.momentum, "Momentum (optimizer momentum)")->capture_default_str();
  cmd->add_flag("--nesterov", a.o.nesterov, "Nesterov momentum");
  cmd->add_option("--weight-decay", a.o.weight_decay, "Weight decay (L2; decoupled for adamw)")->capture_default_str();
  cmd->add_option("--schedule", a.o.schedule, "Learning-rate schedule over the epochs")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--step-size", a.o.step_size, "step schedule: epochs between decays")->capture_default_str();
  cmd->add_option("--gamma", a.o.gamma, "step schedule: decay factor")->capture_default_str();
  cmd->add_option("--clip", a.o.clip, "Clip every gradient element to [-X, X] (0 = off)")->capture_default_str();
  cmd->add_option("--clip-norm", a.o.clip_norm, "Clip the gradients' global L2 norm to X (0 = off)")
      ->capture_default_str();
  cmd->add_option("--label-smoothing", a.o.label_smoothing,
                  "Train on the targets (1-X) one-hot + X uniform over the classes (0 = off; the loss\n"
                  "reported for training is the smoothed one, validation's plain cross-entropy)")
      ->capture_default_str();
  cmd->add_option("--average", a.o.average,
                  "Keep a moving average of the weights, each step a += (1-D)(w - a) (0 = off; 0.999: about the\n"
                  "last 1000 steps): validation scores it, and it is the model saved")
      ->capture_default_str();
  cmd->add_option("--on-nonfinite", a.o.on_nonfinite,
                  "A step whose loss or gradients are NaN or infinite: stop (keep the last good checkpoint and\n"
                  "model, exit non-zero) or skip it (no update; counted on stderr)")
      ->check(CLI::IsMember({"stop", "skip"}))
      ->capture_default_str();
  cmd->add_option("--seed", a.o.seed, "Random seed (weights and shuffling; numpy-compatible)")->capture_default_str();
  cmd->add_option("--dtype", a.o.dtype,
                  "Arithmetic: f32, or f64 as numpy does (reproduces bench/reference/seed_rnn.py's log)")
      ->check(CLI::IsMember({"f32", "f64"}))
      ->capture_default_str();
  cmd->add_option("--log-every", a.o.log_every,
                  "Evaluate and log every N epochs, and at the last (default: a tenth of --epochs)");
  cmd->add_flag("--quiet", a.quiet, "Print no log and no progress bar");
  if (train)
  cmd->add_option("--log-json", a.log_json, "Also write every evaluation to FILE as one JSON object per line");
  if (train)
  cmd->add_option("--report", a.report,
                  "Write an HTML report here at the end: loss and accuracy curves, confusion matrix, settings");
  if (train)
  cmd->add_option("--task", a.o.task,
                  "classify (labelled text), lm (a language model on plain text) or seq2seq (an encoder-\n"
                  "decoder on source<TAB>target pairs, docs/seq2seq.md)")
      ->check(CLI::IsMember({"classify", "lm", "seq2seq"}))
      ->capture_default_str();
  if (train)
  cmd->add_option("--text", a.text, "lm: the training text (UTF-8)")->check(CLI::ExistingFile);
  if (train)
  cmd->add_option("--valid-text", a.valid_text, "lm: validation text")->check(CLI::ExistingFile);
  cmd->add_option("--tokenizer", a.o.tokenizer,
                  "whitespace (the seed's split on single spaces; classify default), word (words and\n"
                  "punctuation), char (Unicode code points; lm default), symbols (separated by spaces:\n"
                  "\"K AE T\"); seq2seq: both sides")
      ->check(CLI::IsMember({"whitespace", "word", "char", "symbols"}));
  if (train) {
    cmd->add_option("--src-tokenizer", a.o.src_tokenizer, "seq2seq: the sources' tokenizer (default: --tokenizer, else char)")
        ->check(CLI::IsMember({"word", "char", "symbols"}));
    cmd->add_option("--tgt-tokenizer", a.o.tgt_tokenizer,
                    "seq2seq: the targets' tokenizer (default: --tokenizer, else symbols)")
        ->check(CLI::IsMember({"word", "char", "symbols"}));
    cmd->add_option("--attention", a.o.attention,
                    "seq2seq: none, dot or general (Luong), additive (Bahdanau)")
        ->check(CLI::IsMember({"none", "dot", "general", "additive"}))
        ->capture_default_str();
    cmd->add_flag("--input-feeding,!--no-input-feeding", a.o.input_feeding,
                  "seq2seq: feed each step's attentional state into the next step's input (default on)");
    cmd->add_option("--dec-cell", a.o.dec_cell, "seq2seq: the decoder's cell (default: --cell)")
        ->check(CLI::IsMember({"rnn", "rnn_tanh", "rnn_relu", "lstm", "gru"}));
    cmd->add_option("--dec-layers", a.o.dec_layers, "seq2seq: the decoder's layers (default: --layers)");
    cmd->add_option("--dec-hidden", a.o.dec_hidden,
                    "seq2seq: the decoder's hidden size (default: the encoder's outputs, --hidden x directions)");
    cmd->add_option("--dec-embed", a.o.dec_embed, "seq2seq: the decoder's embedding size (default: --embed)");
    cmd->add_option("--members", a.o.members,
                    "seq2seq: train N models together, each from its own initial weights, on the same batches\n"
                    "(each clipped and stepped as if alone), validated and saved as one ensemble that decodes as\n"
                    "one (recur translate): N times the training time, fewer errors")
        ->capture_default_str();
    cmd->add_option("--max-length", a.o.max_length, "seq2seq: symbols a training source or target may have")
        ->capture_default_str();
  }
  cmd->add_flag("--lowercase", a.o.lowercase, "Lowercase the text before tokenizing (Unicode case folding: É is é);\npredict, eval and generate do the same");
  cmd->add_option("--min-count", a.o.min_count,
                  "classify: leave words seen fewer than N times out of the vocabulary; they and unseen\n"
                  "words become <unk>, which the model learns")
      ->capture_default_str();
  cmd->add_option("--max-vocab", a.o.max_vocab, "classify: keep only the N most frequent words (others become <unk>)")
      ->capture_default_str();
  add_data_flags(cmd, a.data);
  if (train)
  cmd->add_option("--checkpoint", a.o.checkpoint, "Checkpoint file (default: <save>.ckpt when --save is given)");
  if (train)
  cmd->add_option("--checkpoint-every", a.o.checkpoint_every,
                  "Write a checkpoint every N steps (0: at every log line and at the end)")
      ->capture_default_str();
  if (train)
  cmd->add_option("--resume", a.o.resume, "Continue the run a checkpoint holds (give the same other flags)")
      ->check(CLI::ExistingFile);
  if (train)
  cmd->add_option("--mpi-timeout", a.mpi_timeout,
                  "Under mpirun: seconds to wait for the other processes in an exchange before ending the\n"
                  "job (a process that died or hangs)")
      ->capture_default_str();
  if (train)
  cmd->add_option("--steps", a.o.steps, "lm: optimizer steps")->capture_default_str();
  if (train)
  cmd->add_option("--seq-len", a.o.seq_len, "lm: symbols per stream per step (truncated BPTT length)")
      ->capture_default_str();
  if (train)
  cmd->add_option("--eval-every", a.o.eval_every, "lm: steps between validations and log lines")->capture_default_str();
  cmd->add_option("--patience", a.o.patience,
                  "Stop after N evaluations without a better validation result (0 = never)")
      ->capture_default_str();
  if (train)
  cmd->add_option("--plateau-decay", a.o.plateau_decay, "lm: multiply the learning rate by X when validation does not improve")
      ->capture_default_str();
  cmd->add_option("--preset", a.o.preset,
                  "Settings of a known recipe; flags given explicitly win:\n"
                  "  sentiment     short labelled texts: words (lowercased, --min-count 2), embedding 64,\n"
                  "                character 3-6-grams in 20000 buckets, bidirectional LSTM 64 read by max\n"
                  "                pooling over time, word dropout 0.1, embedding dropout 0.2, Adam 2e-3 with\n"
                  "                sparse embedding updates, batch 16, up to 20 epochs with a\n"
                  "                tenth held out for early stopping (patience 4); chosen by 10-fold\n"
                  "                cross-validation on the UCI sentences (docs/benchmarks.md)\n"
                  "  min-char-rnn  vanilla RNN 100, seq 25, batch 1, Adagrad 0.1, clip 5 (lm)\n"
                  "  char-rnn      LSTM 2x128, seq 50, batch 50, RMSprop 2e-3, clip 5 (lm)\n"
                  "  g2p           grapheme to phoneme (seq2seq): characters (lowercased) to symbols,\n"
                  "                bidirectional LSTM encoder, LSTM decoder with general attention and\n"
                  "                input feeding, Adam, 24 epochs; two models trained together as one\n"
                  "                ensemble (--members 2; --members 1 for one, in half the time); chosen\n"
                  "                on the CMU dictionary (docs/seq2seq.md)")
      ->check(CLI::IsMember({"sentiment", "min-char-rnn", "char-rnn", "g2p"}));
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
      "On a terminal a progress bar shows the epoch, loss, speed and time left.\n"
      "`mpirun -np N recur train ...` trains one model on N processes (data parallel; rank 0\n"
      "prints and writes the files; docs/distributed.md).");
  add_train_flags(cmd, *a);
  cmd->callback([a, cmd] {
    TrainArgs args = *a;
    recur::apply_defaults(args.o, given_flags(*cmd));
    recur::Communicator* processes = train_processes(args);
    if (processes && processes->rank() > 0) {  // rank 0 alone prints and writes logs and reports
      args.quiet = true;
      args.log_json.clear();
      args.report.clear();
    }
    if (args.o.task == "lm")
      train_lm_command(args, processes);
    else if (args.o.task == "seq2seq")
      train_seq2seq_command(args, processes);
    else
      train_classify_command(args, processes);
  });
}

}  // namespace recur_cli
