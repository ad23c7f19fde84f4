// recur/config.hpp — what a model is: its configuration, and everything a model
// file holds besides its tensors (tokenizer, normalization, vocabulary, labels).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "recur/subwords.hpp"
#include "recur/text.hpp"

namespace recur {

enum class CellKind { rnn_tanh, rnn_relu, lstm, gru };

inline int gates_of(CellKind k) { return k == CellKind::lstm ? 4 : k == CellKind::gru ? 3 : 1; }

std::string cell_name(CellKind k);
CellKind cell_from_name(const std::string& s);  // "rnn" = "rnn_tanh"; throws recur::Error

enum class Task { classify, lm };
std::string to_string(Task t);

// How a classifier reads its top layer (pooling.hpp): the final states (the
// seed's, PyTorch's h_n), or the mean, maximum or attention-weighted sum of the
// outputs at every step.
enum class PoolKind { last, mean, max, attention };
std::string to_string(PoolKind k);
PoolKind pool_from_string(const std::string& s);  // throws recur::Error

struct ModelConfig {
  Task task = Task::classify;
  CellKind cell = CellKind::rnn_tanh;
  int vocab = 0;   // V
  int embed = 0;   // E; 0 = one-hot input
  int hidden = 64; // H
  int layers = 1;
  bool bidirectional = false;
  int classes = 2;      // C, the head's outputs (lm: equal to vocab)
  bool bias_hh = false; // false: the seed's single bias b_h (stored as bias_ih)
  double dropout = 0;   // on the outputs of every layer and on the head's input, training only
  PoolKind pool = PoolKind::last;  // classify: what the head reads (attention adds pool.query, (D*H))
  SubwordSpec subwords;            // classify with an embedding: n-gram input (subwords.hpp; adds subwords.weight, (N, E))
  // Training only, not in the model file: word dropout (a token read as the
  // unknown word, unknown_id: <unk>'s id or -1 for the zero input) and dropout
  // on the embedded input's elements.
  double word_dropout = 0, embed_dropout = 0;
  int unknown_id = -1;
  int directions() const { return bidirectional ? 2 : 1; }
};

// The input and the stacked recurrent layers of a model (stack.hpp).
struct StackConfig {
  CellKind cell = CellKind::rnn_tanh;
  int vocab = 0, embed = 0, hidden = 64, layers = 1;
  bool bidirectional = false, bias_hh = false;
  double dropout = 0;  // on each layer's outputs, training only
  double word_dropout = 0, embed_dropout = 0;  // training only (stack.hpp)
  int unknown_id = -1;  // word dropout reads a dropped token as this id (<unk>'s, or -1: the zero input)
  int buckets = 0;  // subword rows after the embedding's (subwords.weight, (buckets, embed)); 0 = none
  int directions() const { return bidirectional ? 2 : 1; }
};

// A sequence-to-sequence model (seq2seq.hpp).
enum class AttentionKind { none, dot, general, additive };
std::string to_string(AttentionKind a);
AttentionKind attention_from_string(const std::string& s);  // throws recur::Error

struct Seq2SeqConfig {
  StackConfig encoder;             // vocab: the source vocabulary
  CellKind cell = CellKind::lstm;  // the decoder's
  int tgt_vocab = 0, embed = 0, hidden = 64, layers = 1;
  bool bias_hh = true;
  AttentionKind attention = AttentionKind::general;
  bool input_feeding = true;
  double dropout = 0;              // between decoder layers and on h~ (training only)
  // The encoder's final states are copied, not bridged.
  bool copies_state() const {
    return !encoder.bidirectional && encoder.cell == cell && encoder.layers == layers && encoder.hidden == hidden;
  }
  int source_width() const { return encoder.directions() * encoder.hidden; }  // D_e*H_e
};

// The tensors of a model of this configuration, in file order: PyTorch's
// names and shapes ({rows} for a vector, {rows, cols} for a matrix).
struct TensorShape {
  std::string name;
  std::vector<long> shape;
};
std::vector<TensorShape> parameter_shapes(const ModelConfig& c);
std::vector<TensorShape> parameter_shapes(const Seq2SeqConfig& c);

// The most bytes one tensor may take — a tensor read from a file, or a model's
// parameters (one buffer in memory): RECUR_MAX_TENSOR_BYTES when set (bytes,
// or with a K, M, G or T suffix, 1024-based), else 4 GiB. Throws recur::Error
// when the variable is not such a number.
std::uint64_t max_tensor_bytes();

// Stacked layers a model may have: far more than any recurrent stack trains
// well, few enough that a file's claim is cheap to check.
constexpr int kMaxLayers = 1000;

// Throws recur::Error, before anything is allocated, when a model of this
// configuration is invalid (a size below 1, more than kMaxLayers layers), has
// a dimension past what the engine indexes (int), or a tensor or all of its
// parameters together past max_tensor_bytes(). Model's constructor calls it.
void check_model_size(const ModelConfig& c);

// What a model file says besides its tensors.
struct ModelInfo {
  ModelConfig config;
  Vocabulary vocab;
  std::vector<std::string> labels;  // classify: class names, index order
  TokenizerKind tokenizer = TokenizerKind::whitespace;
  Normalization normalization = Normalization::nfc;
  bool lowercase() const { return lowercases(normalization); }
  // Text as the model reads it: normalized, tokenized, looked up.
  Encoded encode(std::string_view text) const { return recur::encode(vocab, tokenizer, normalize(text, normalization)); }
  // What happens to a word outside the vocabulary, for messages.
  std::string unknown_words_policy() const {
    return config.subwords.enabled() ? "read through their character n-grams" : recur::unknown_words_policy(vocab);
  }
  // ... a model with subwords: words outside the vocabulary added to `bags`.
  Encoded encode(std::string_view text, TokenBags& bags) const {
    return recur::encode(vocab, tokenizer, normalize(text, normalization), bags);
  }
};

}  // namespace recur
