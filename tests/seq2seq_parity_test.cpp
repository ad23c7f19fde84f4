// PyTorch parity for the encoder–decoder: the fixtures written by
// tests/torch_seq2seq_reference.py hold a model built from torch.nn modules
// (packed encoder, bridge or copied state, decoder stepped with input
// feeding, each attention kind), a batch of pairs of unequal lengths on both
// sides, and PyTorch's logits, loss and every gradient (float64). recur,
// loading the same parameters, must agree on each tensor to within 1e-5 of its
// largest magnitude.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "recur/io.hpp"
#include "recur/layers.hpp"
#include "recur/seq2seq.hpp"

using namespace recur;

namespace {

const std::string kDir = std::string(RECUR_SOURCE_DIR) + "/tests/fixtures/torch/";

double rel_diff(const std::vector<double>& a, const std::vector<float>& ref) {
  double diff = 0, mag = 1e-30;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - double(ref[i])));
    mag = std::max(mag, std::abs(double(ref[i])));
  }
  return diff / mag;
}

class Seq2SeqParity : public ::testing::TestWithParam<std::string> {};

TEST_P(Seq2SeqParity, LogitsLossAndEveryGradient) {
  const SafeTensors st = read_safetensors(kDir + "seq2seq_" + GetParam() + ".safetensors");
  const auto& m = st.metadata;
  Seq2SeqConfig c;
  c.encoder.cell = cell_from_name(m.at("encoder_cell"));
  c.encoder.layers = std::stoi(m.at("encoder_num_layers"));
  c.encoder.hidden = std::stoi(m.at("encoder_hidden_size"));
  c.encoder.bidirectional = m.at("encoder_bidirectional") == "true";
  c.encoder.embed = std::stoi(m.at("encoder_embed"));
  c.encoder.vocab = std::stoi(m.at("src_vocab"));
  c.encoder.bias_hh = true;
  c.cell = cell_from_name(m.at("decoder_cell"));
  c.layers = std::stoi(m.at("decoder_num_layers"));
  c.hidden = std::stoi(m.at("decoder_hidden_size"));
  c.embed = std::stoi(m.at("decoder_embed"));
  c.tgt_vocab = std::stoi(m.at("tgt_vocab"));
  c.attention = attention_from_string(m.at("attention"));
  c.input_feeding = m.at("input_feeding") == "true";
  Seq2Seq<double> model(c);
  for (const ParamSpec& p : model.table().specs()) {
    ASSERT_TRUE(st.tensors.count(p.name)) << p.name << " is not in the fixture";
    const TensorF32& t = st.tensors.at(p.name);
    ASSERT_EQ(t.data.size(), p.size()) << p.name;
    std::copy(t.data.begin(), t.data.end(), model.weights().begin() + std::ptrdiff_t(p.offset));
  }
  EXPECT_EQ(model.table().specs().size() * 2 + 5, st.tensors.size()) << "a tensor in the file is not in the model";

  const TensorF32 &src = st.tensors.at("input.src"), &tin = st.tensors.at("input.tgt_in"),
                  &tout = st.tensors.at("input.tgt_out");  // (S, B), (T, B)
  Batch b;
  b.T = int(src.shape[0]), b.B = int(src.shape[1]), b.dec_T = int(tin.shape[0]);
  for (float x : src.data) b.ids.push_back(int(x));
  for (float x : tin.data) b.dec_ids.push_back(int(x));
  for (float x : tout.data) b.targets.push_back(int(x));
  b.lengths = nlohmann::json::parse(m.at("src_lengths")).get<std::vector<int>>();
  b.dec_lengths = nlohmann::json::parse(m.at("tgt_lengths")).get<std::vector<int>>();

  Seq2Seq<double>::Workspace ws;
  model.forward(b, ws);
  const TensorF32& ref_logits = st.tensors.at("out.logits");  // (T, B, V): rows t*B + b, as recur's
  std::vector<double> got(ws.logits.data(), ws.logits.data() + ws.logits.size());
  std::vector<float> want = ref_logits.data;
  for (std::size_t r = 0; r < b.targets.size(); ++r)  // padded steps: not compared
    if (b.targets[r] < 0)
      for (int v = 0; v < c.tgt_vocab; ++v) got[r * std::size_t(c.tgt_vocab) + std::size_t(v)] = want[r * std::size_t(c.tgt_vocab) + std::size_t(v)];
  EXPECT_LT(rel_diff(got, want), 1e-5) << "logits";
  const double loss = cross_entropy_sum<double>(ws.logits, b.targets);
  EXPECT_NEAR(loss, st.tensors.at("out.loss").data[0], 1e-5 * std::abs(loss));

  cross_entropy_grad<double>(ws.probs, b.targets, 1.0, ws.dlogits);
  model.zero_grad();
  model.backward(b, ws);
  for (const ParamSpec& p : model.table().specs()) {
    std::vector<double> g(model.grads().begin() + std::ptrdiff_t(p.offset),
                          model.grads().begin() + std::ptrdiff_t(p.offset + p.size()));
    EXPECT_LT(rel_diff(g, st.tensors.at("grad." + p.name).data), 1e-5) << p.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Seq2SeqParity,
                         ::testing::Values("general_bi_bridge_feed", "dot_copy_feed", "additive_gru_bi",
                                           "none_copy_gru"));

}  // namespace
