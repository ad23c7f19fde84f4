// PyTorch parity: the fixtures written by tests/torch_reference.py hold a small
// classifier's parameters (reading its final states, or its outputs pooled over time), a padded batch of unequal lengths, and PyTorch's
// outputs, loss and every gradient (computed in float64). recur, loading the
// same parameters, must agree on each tensor to within 1e-5 of its largest
// magnitude.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "recur/io.hpp"
#include "recur/layers.hpp"
#include "recur/model.hpp"
#include "recur/subwords.hpp"

using namespace recur;

namespace {

const std::string kDir = std::string(RECUR_SOURCE_DIR) + "/tests/fixtures/torch/";

std::vector<int> json_ints(const std::string& s) { return nlohmann::json::parse(s).get<std::vector<int>>(); }

// Largest |a - b| relative to the largest |b|.
template <class A>
double rel_diff(const A& a, const TensorF32& ref) {
  double diff = 0, mag = 1e-30;
  for (std::size_t i = 0; i < ref.data.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(ref.data[i])));
    mag = std::max(mag, std::abs(double(ref.data[i])));
  }
  return diff / mag;
}

class TorchParity : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchParity, OutputsLossAndEveryGradient) {
  const SafeTensors st = read_safetensors(kDir + GetParam() + ".safetensors");
  const auto& m = st.metadata;
  ModelConfig c;
  c.cell = cell_from_name(m.at("cell"));
  c.layers = std::stoi(m.at("num_layers"));
  c.hidden = std::stoi(m.at("hidden_size"));
  c.bidirectional = m.at("bidirectional") == "true";
  c.embed = std::stoi(m.at("embed"));
  c.vocab = std::stoi(m.at("vocab"));
  c.classes = std::stoi(m.at("classes"));
  c.bias_hh = true;
  if (m.count("pool")) c.pool = pool_from_string(m.at("pool"));
  if (m.count("subwords")) c.subwords = subword_spec(m.at("subwords"), std::stoi(m.at("buckets")));
  Model<double> model(c);
  for (const ParamSpec& p : model.table().specs()) {
    const TensorF32& t = st.tensors.at(p.name);
    ASSERT_EQ(t.data.size(), p.size()) << p.name;
    std::copy(t.data.begin(), t.data.end(), model.weights().begin() + std::ptrdiff_t(p.offset));
  }
  EXPECT_EQ(model.table().specs().size() * 2 + 5, st.tensors.size()) << "a tensor in the file is not in the model";

  const std::vector<int> lengths = json_ints(m.at("lengths")), targets = json_ints(m.at("targets"));
  const TensorF32& ids = st.tensors.at("input.ids");  // (T, B)
  Batch b;
  b.T = int(ids.shape[0]);
  b.B = int(ids.shape[1]);
  b.lengths = lengths;
  b.targets = targets;
  for (int t = 0; t < b.T; ++t)
    for (int j = 0; j < b.B; ++j) b.ids.push_back(t < lengths[std::size_t(j)] ? int(ids.data[std::size_t(t * b.B + j)]) : -1);
  // Subwords: the batch is words, read through recur's own n-grams and hashing
  // (PyTorch's side cut and hashed them in Python, as docs/model-format.md says).
  Vocabulary vocab;
  std::unique_ptr<TokenBags> vocab_bags, bags;
  if (c.subwords.enabled()) {
    for (const auto& w : nlohmann::json::parse(m.at("vocab_words")).get<std::vector<std::string>>()) vocab.add(w);
    ASSERT_EQ(vocab.size(), c.vocab);
    vocab_bags = std::make_unique<TokenBags>(vocab, c.subwords);
    bags = std::make_unique<TokenBags>(*vocab_bags, true);
    const auto words = nlohmann::json::parse(m.at("words")).get<std::vector<std::string>>();
    ASSERT_EQ(words.size(), b.ids.size());
    for (std::size_t r = 0; r < words.size(); ++r)
      b.ids[r] = words[r].empty() ? -1 : vocab.id(words[r]) != Vocabulary::unknown ? vocab.id(words[r]) : bags->add(words[r], -1);
    ASSERT_GT(bags->size(), c.vocab) << "the batch has words outside the vocabulary";
    b.bags = bags.get();
  }

  Model<double>::Workspace ws;
  model.forward(b, ws);
  const double loss = cross_entropy_sum<double>(ws.logits, targets) / b.B;  // PyTorch's mean
  EXPECT_LT(rel_diff(ws.features.data(), st.tensors.at("out.features")), 1e-5) << "features";
  EXPECT_LT(rel_diff(ws.logits.data(), st.tensors.at("out.logits")), 1e-5) << "logits";
  EXPECT_LT(rel_diff(ws.probs.data(), st.tensors.at("out.probs")), 1e-5) << "probs";
  EXPECT_LT(rel_diff(&loss, st.tensors.at("out.loss")), 1e-5) << "loss";

  cross_entropy_grad<double>(ws.probs, targets, 1.0 / b.B, ws.dlogits);
  model.zero_grad();
  model.backward(b, ws);
  for (const ParamSpec& p : model.table().specs()) {
    const double d = rel_diff(model.grads().data() + p.offset, st.tensors.at("grad." + p.name));
    EXPECT_LT(d, 1e-5) << "grad." << p.name;
  }
}

std::vector<std::string> cases() {
  std::vector<std::string> out;
  for (const char* cell : {"rnn_tanh", "rnn_relu", "lstm", "gru"})
    for (const char* cfg : {"l1_uni_onehot", "l2_uni_embed", "l1_bi_onehot", "l2_bi_embed"})
      out.push_back(std::string(cell) + "_" + cfg);
  // Pooling over time (--pool): the top layer's outputs, padded, masked and pooled in PyTorch.
  for (const char* pooled : {"lstm_l2_bi_embed_pool_mean", "gru_l1_bi_onehot_pool_max", "rnn_tanh_l2_uni_embed_pool_max",
                             "lstm_l2_bi_embed_pool_attention", "gru_l1_uni_onehot_pool_attention"})
    out.push_back(pooled);
  // Subword input (--subwords): nn.EmbeddingBag's mean over [embedding; subwords] rows.
  for (const char* sub : {"lstm_l2_bi_embed_subwords", "gru_l2_uni_embed_subwords"}) out.push_back(sub);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TorchParity, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param; });

}  // namespace
