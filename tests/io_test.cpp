#include <gtest/gtest.h>

#include "test_util.hpp"

#include <unistd.h>

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "recur/data.hpp"
#include "recur/error.hpp"
#include "recur/io.hpp"

using namespace recur;
using recur_test::error_of;

namespace {

std::string tmp_path(const std::string& name) {
  return ::testing::TempDir() + "recur_io_test_" + std::to_string(::getpid()) + "_" + name;
}


SafeTensors sample() {
  SafeTensors st;
  st.tensors["a.weight"] = {{2, 3}, {1, -2, 3.5f, 4, 5, 6e-8f}};
  st.tensors["a.bias"] = {{2}, {0.25f, -0.125f}};
  st.metadata["format"] = "recur/1";
  return st;
}

}  // namespace

TEST(Safetensors, RoundTripIsExactAndLittleEndian) {
  const std::string bytes = encode_safetensors(sample());
  // 8-byte little-endian header length, then JSON, then data 8-aligned.
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[std::size_t(i)]);
  EXPECT_EQ((8 + n) % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["a.weight"]["dtype"], "F32");
  EXPECT_EQ(header["a.weight"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(header["__metadata__"]["format"], "recur/1");
  EXPECT_EQ(bytes.size(), 8 + n + 4 * 8);
  const SafeTensors back = decode_safetensors(bytes, "x");
  EXPECT_EQ(back.tensors.at("a.weight").data, sample().tensors.at("a.weight").data);
  EXPECT_EQ(back.tensors.at("a.bias").shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(back.metadata.at("format"), "recur/1");
  // 0.25f is 0x3E800000: stored as 00 00 80 3E.
  const std::size_t bias_at = 8 + n + std::size_t(header["a.bias"]["data_offsets"][0]);
  EXPECT_EQ(bytes.substr(bias_at, 4), std::string("\x00\x00\x80\x3E", 4));
}

TEST(Safetensors, CorruptFilesAreClearErrors) {
  const std::string good = encode_safetensors(sample());
  EXPECT_NE(error_of([] { decode_safetensors("abc", "m.st"); }).find("m.st: not a valid safetensors file"),
            std::string::npos);
  std::string huge = good;
  huge[7] = '\x7f';  // header length beyond the file
  EXPECT_NE(error_of([&] { decode_safetensors(huge, "m.st"); }).find("exceeds the file size"), std::string::npos);
  std::string truncated = good.substr(0, good.size() - 3);
  EXPECT_NE(error_of([&] { decode_safetensors(truncated, "m.st"); }).find("truncated"), std::string::npos);
  std::string garbage = good;
  garbage[9] = '#';  // break the JSON
  EXPECT_NE(error_of([&] { decode_safetensors(garbage, "m.st"); }).find("header is not JSON"), std::string::npos);
  std::string f64 = good;
  const auto pos = f64.find("\"F32\"");
  f64.replace(pos, 5, "\"F64\"");
  EXPECT_NE(error_of([&] { decode_safetensors(f64, "m.st"); }).find("recur reads F32"), std::string::npos);
}

TEST(Safetensors, AtomicWriteLeavesNoTemporaryFile) {
  const std::string path = tmp_path("atomic.safetensors");
  write_safetensors(path, sample());
  write_safetensors(path, sample());  // overwrite in place
  EXPECT_EQ(read_safetensors(path).tensors.size(), 2u);
  EXPECT_NE(error_of([] { write_safetensors("/nonexistent-dir/m.safetensors", sample()); })
                .find("/nonexistent-dir/m.safetensors: cannot write"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(ModelFile, SaveLoadGivesIdenticalProbabilitiesAndContractNames) {
  ModelInfo info;
  for (const char* w : {"i", "am", "good", "bad"}) info.vocab.add(w);
  info.labels = {"neg", "pos"};
  ModelConfig& c = info.config;
  c.vocab = 4;
  c.hidden = 16;
  c.layers = 2;
  c.classes = 2;
  Model<float> m(c);
  Rng rng(11);
  for (float& w : m.weights()) w = float(rng.randn() * 0.3);
  const std::string path = tmp_path("model.safetensors");
  save_model(path, m, info);

  const SafeTensors st = read_safetensors(path);
  for (const char* name : {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.weight_ih_l1",
                           "rnn.weight_hh_l1", "rnn.bias_ih_l1", "head.weight", "head.bias"})
    EXPECT_EQ(st.tensors.count(name), 1u) << name;
  EXPECT_EQ(st.tensors.count("rnn.bias_hh_l0"), 0u);  // the seed's single bias
  EXPECT_EQ(st.tensors.at("rnn.weight_ih_l0").shape, (std::vector<std::int64_t>{16, 4}));
  EXPECT_EQ(st.tensors.at("head.weight").shape, (std::vector<std::int64_t>{2, 16}));
  EXPECT_EQ(st.metadata.at("cell"), "rnn_tanh");
  EXPECT_EQ(st.metadata.at("task"), "classify");
  EXPECT_EQ(st.metadata.at("num_layers"), "2");
  EXPECT_EQ(st.metadata.at("vocab"), "[\"i\",\"am\",\"good\",\"bad\"]");
  EXPECT_EQ(st.metadata.at("labels"), "[\"neg\",\"pos\"]");

  LoadedModel l = load_model(path);
  EXPECT_EQ(l.model.weights(), m.weights());
  EXPECT_EQ(l.info.vocab.tokens(), info.vocab.tokens());
  Model<float>::Workspace a, b;
  const Batch batch = make_batch({{0, 1, 2}, {3, -1}}, {}, {0, 1});
  m.forward(batch, a);
  l.model.forward(batch, b);
  EXPECT_EQ(a.probs, b.probs);  // bit for bit
  std::remove(path.c_str());
}

// A pooled classifier (--pool): metadata `pool`, attention's `pool.query`, the
// same probabilities after a round trip; a file of an unknown pooling, or one
// that claims attention without its query, is refused by name; a model of the
// final states writes no `pool` key (files as before).
TEST(ModelFile, PoolingRoundTripsAndBadPoolingIsRefused) {
  ModelInfo info;
  for (const char* w : {"i", "am", "good", "bad"}) info.vocab.add(w);
  info.labels = {"neg", "pos"};
  ModelConfig& c = info.config;
  c.cell = CellKind::gru;
  c.vocab = 4;
  c.embed = 3;
  c.hidden = 5;
  c.bidirectional = true;
  const std::string path = tmp_path("pooled.safetensors");
  for (const PoolKind pool : {PoolKind::last, PoolKind::mean, PoolKind::max, PoolKind::attention}) {
    c.pool = pool;
    Model<float> m(c);
    Rng rng(12);
    for (float& w : m.weights()) w = float(rng.randn() * 0.3);
    save_model(path, m, info);
    const SafeTensors st = read_safetensors(path);
    EXPECT_EQ(st.metadata.count("pool"), pool == PoolKind::last ? 0u : 1u);
    if (pool != PoolKind::last) {
      EXPECT_EQ(st.metadata.at("pool"), to_string(pool));
    }
    EXPECT_EQ(st.tensors.count("pool.query"), pool == PoolKind::attention ? 1u : 0u);
    LoadedModel l = load_model(path);
    EXPECT_EQ(l.info.config.pool, pool);
    Model<float>::Workspace a, b;
    const Batch batch = make_batch({{0, 1, 2}, {3, -1}}, {}, {0, 1});
    m.forward(batch, a);
    l.model.forward(batch, b);
    EXPECT_EQ(a.probs, b.probs) << to_string(pool);
  }
  SafeTensors st = read_safetensors(path);  // attention
  st.metadata["pool"] = "median";
  write_safetensors(path, st);
  EXPECT_EQ(error_of([&] { load_model(path); }),
            path + ": metadata unknown pooling 'median' (known: last, mean, max, attention)");
  st.metadata["pool"] = "attention";
  st.tensors.erase("pool.query");
  write_safetensors(path, st);
  EXPECT_EQ(error_of([&] { load_model(path); }), path + ": missing tensor pool.query");
  std::remove(path.c_str());
}

TEST(ModelFile, RejectsWhatItCannotRun) {
  const std::string path = tmp_path("bad.safetensors");
  write_safetensors(path, sample());
  EXPECT_NE(error_of([&] { load_model(path); }).find(path + ": metadata has no"), std::string::npos);
  ModelInfo info;
  info.vocab.add("x");
  info.vocab.add("y");
  info.labels = {"a", "b"};
  info.config.vocab = 2;
  info.config.hidden = 3;
  Model<float> m(info.config);
  save_model(path, m, info);
  SafeTensors st = read_safetensors(path);
  st.tensors["rnn.weight_hh_l0"].shape = {1, 9};
  write_safetensors(path, st);
  EXPECT_EQ(error_of([&] { load_model(path); }),
            path + ": tensor rnn.weight_hh_l0 has shape (1, 9), expected (3, 3)");
  st.tensors["rnn.weight_hh_l0"].shape = {3, 3};
  st.tensors["rnn.weight_hh_l0"].data[4] = std::numeric_limits<float>::quiet_NaN();
  write_safetensors(path, st);
  EXPECT_EQ(error_of([&] { load_model(path); }), path + ": a parameter is not finite (NaN or inf)");
  std::remove(path.c_str());
}
