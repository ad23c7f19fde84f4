// recur/options.hpp — every setting of a training run, named as the command
// line names it (`hidden` is --hidden, `clip_norm` is --clip-norm), with the
// presets and the checks every front door shares.
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace recur {

struct TrainOptions {
  std::string task = "classify";  // classify | lm | seq2seq
  std::string preset;             // sentiment | min-char-rnn | char-rnn | g2p (see apply_defaults)
  // text
  std::string tokenizer;          // whitespace | word | char; empty: the task's (whitespace, char)
  bool lowercase = false;         // Unicode case folding (after NFC, which every new model applies)
  int min_count = 1, max_vocab = 0;  // classify: rarer words, or those past the N most frequent, become <unk>
  // model
  std::string cell = "rnn";       // rnn | rnn_tanh | rnn_relu | lstm | gru
  int layers = 1, hidden = 64, embed = 0;  // embed 0: one-hot input
  bool bidirectional = false, bias_hh = false;
  double dropout = 0;
  std::string pool = "last";      // classify: last | mean | max | attention (pooling.hpp)
  double word_dropout = 0, embed_dropout = 0;  // classify, training only (stack.hpp)
  std::string vectors;            // classify: pretrained word vectors (.vec) for the embedding (vectors.hpp)
  bool vectors_vocab = false;     // ... and their words added to the vocabulary
  bool freeze_embedding = false;  // the embedding is not trained
  std::string init_from;          // classify: start from this language model's embedding and layers
  std::string subwords;           // classify: character n-gram lengths MIN-MAX (subwords.hpp); empty: words only
  int buckets = 20000;            // ... hashed into this many rows
  bool sparse_embedding = false;  // classify: update only the embedding and subword rows a step read (optim.hpp)
  std::string init = "seed";      // seed | pytorch | xavier | orthogonal | normal
  bool forget_bias = false;
  // sequence to sequence: the options above are the encoder's; the decoder's
  // default to them (its hidden size to the encoder's outputs': hidden x directions)
  std::string src_tokenizer, tgt_tokenizer;  // empty: --tokenizer, else char and symbols
  std::string attention = "general";         // none | dot | general | additive
  bool input_feeding = true;
  std::string dec_cell;                      // empty: --cell
  int dec_layers = 0, dec_hidden = 0, dec_embed = -1;  // 0 (embed -1): from the encoder
  int max_length = 1000;                     // symbols a training source or target may have
  int members = 1;                           // models trained together and saved as one ensemble (Seq2SeqEnsemble)
  // optimization
  std::string optimizer = "sgd";  // sgd | momentum | adagrad | rmsprop | adam | adamw
  double lr = 0.02, momentum = 0.9, weight_decay = 0;
  bool nesterov = false;
  std::string schedule = "constant";  // constant | step | cosine
  int step_size = 10;
  double gamma = 0.5;
  double clip = 1.0, clip_norm = 0;   // 0 = off
  double label_smoothing = 0;         // ε of the training loss (layers.hpp); evaluation stays plain cross-entropy
  double average = 0;                 // decay of the weights' moving average, scored and saved (trainer.hpp); 0 = off
  std::string on_nonfinite = "stop";  // stop | skip: a step whose loss or gradient is NaN/inf (trainer.hpp)
  int batch = 1;                      // sequences (lm: streams) per step, per process and part
  int accumulate = 1;                 // parts per optimizer step: gradients of K batches of --batch
                                      // add up to one step of K x --batch (gradient accumulation)
  int threads = 1;                    // ranks of a data-parallel run on threads of this process
  bool threads_by_preset = false;     // `threads` came from the preset: under mpirun the processes are the ranks
                                      // (threads.hpp): a step takes threads x --batch x --accumulate
  // length and evaluation
  int epochs = 1000, log_every = 0;   // classify; log_every 0: a tenth of the epochs
  long steps = 2000, eval_every = 200;  // lm
  int seq_len = 64;                   // lm
  double plateau_decay = 1;
  double valid_fraction = 0;
  int patience = 0;
  // run
  std::uint32_t seed = 1;
  std::string dtype = "f32";          // f32 | f64
  std::string save, checkpoint, resume;
  long checkpoint_every = 0;
  bool checkpoints = true;            // false: none at all, not even when interrupted (cross-validation folds)

  // The tokenizer the task uses when none is named.
  std::string tokenizer_or_default() const { return !tokenizer.empty() ? tokenizer : task == "lm" ? "char" : "whitespace"; }
  // Sequence to sequence: each side's tokenizer (--src-tokenizer, else
  // --tokenizer, else char; --tgt-tokenizer, else --tokenizer, else symbols).
  std::string source_tokenizer() const { return !src_tokenizer.empty() ? src_tokenizer : !tokenizer.empty() ? tokenizer : "char"; }
  std::string target_tokenizer() const { return !tgt_tokenizer.empty() ? tgt_tokenizer : !tokenizer.empty() ? tokenizer : "symbols"; }
  // --checkpoint, else <save>.ckpt, else recur-train.ckpt (written only when a run is interrupted).
  std::string checkpoint_path() const;
  // Periodic checkpoints are written when asked for: with --save or --checkpoint.
  bool periodic_checkpoints() const { return !save.empty() || !checkpoint.empty(); }
  // Evaluations every N epochs: log_every, or a tenth of the epochs.
  int evaluation_every() const;
};

// A preset's settings and a language model's defaults, for every setting not
// named in `given` (names as the flags, without dashes: "hidden", "clip-norm"):
//   sentiment     short labelled texts: words (lowercased, --min-count 2),
//                 embedding 64, bidirectional LSTM 64 read by max pooling over
//                 time, word dropout 0.1, embedding dropout 0.2, Adam 2e-3, batch 16, up
//                 to 20 epochs with a tenth held out for early stopping
//                 (patience 4); chosen by 10-fold cross-validation (docs/benchmarks.md)
//   min-char-rnn  vanilla RNN 100 (one bias, weights N(0, 0.01^2)), seq 25, batch 1, Adagrad 0.1, clip 5 (lm)
//   char-rnn      LSTM 2x128, seq 50, batch 50, RMSprop 2e-3, clip 5 (lm)
//   g2p           grapheme to phoneme (seq2seq): characters to symbols, bidirectional
//                 LSTM encoder of two layers, LSTM decoder with general attention and
//                 input feeding, dropout 0.1, Adam 1e-3 on a cosine schedule, 24 epochs,
//                 two ranks on threads of 32 pairs (--threads 2), two models trained
//                 together as one ensemble (--members 2), validated every third epoch,
//                 the best validated epoch kept (docs/seq2seq.md)
//   task lm       LSTM 2x128, batch 32, seq 64, Adam 2e-3, norm clip 5
//   task seq2seq  bidirectional LSTM 128 encoder, embedding 64, LSTM decoder 256,
//                 general attention with input feeding, Adam 2e-3, norm clip 5,
//                 batch 32, 10 epochs
void apply_defaults(TrainOptions& o, const std::set<std::string>& given);

// The checks every task shares; throws recur::Error naming the flag
// ("--hidden must be at least 1").
void check(const TrainOptions& o);

}  // namespace recur
