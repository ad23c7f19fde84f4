#include "recur/io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "recur/data.hpp"
#include "recur/error.hpp"

namespace recur {

using nlohmann::json;

namespace {

void put_u64_le(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
}

std::uint64_t get_u64_le(const std::string& s) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[std::size_t(i)]);
  return v;
}

// float <-> little-endian bytes, independent of the host's byte order.
void put_f32_le(std::string& out, float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  for (int i = 0; i < 4; ++i) out.push_back(char((u >> (8 * i)) & 0xFF));
}

float get_f32_le(const char* p) {
  std::uint32_t u = 0;
  for (int i = 3; i >= 0; --i) u = (u << 8) | static_cast<unsigned char>(p[i]);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

std::string encode_safetensors(const SafeTensors& st) {
  json header = json::object();
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : st.tensors) {
    std::uint64_t n = 1;
    for (auto d : t.shape) n *= std::uint64_t(d);
    if (n != t.data.size()) throw Error("tensor " + name + ": shape does not match its data");
    header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h.push_back(' ');  // data starts 8-byte aligned
  std::string out;
  out.reserve(8 + h.size() + offset);
  put_u64_le(out, h.size());
  out += h;
  for (const auto& [name, t] : st.tensors)
    for (float f : t.data) put_f32_le(out, f);
  return out;
}

SafeTensors decode_safetensors(const std::string& bytes, const std::string& name) {
  auto fail = [&](const std::string& what) { return Error(name + ": not a valid safetensors file: " + what); };
  if (bytes.size() < 8) throw fail("shorter than its 8-byte header length");
  const std::uint64_t n = get_u64_le(bytes);
  if (n > bytes.size() - 8) throw fail("header length " + std::to_string(n) + " exceeds the file size");
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(n));
  } catch (const json::exception& e) {
    throw fail(std::string("header is not JSON (") + e.what() + ")");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  const std::uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;
  SafeTensors st;
  std::uint64_t covered = 0;
  for (const auto& [key, v] : header.items()) {
    if (key == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__ is not an object");
      for (const auto& [mk, mv] : v.items()) {
        if (!mv.is_string()) throw fail("metadata value '" + mk + "' is not a string");
        st.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + key + "': ";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw fail(where + "needs dtype, shape and data_offsets");
    if (!v["dtype"].is_string() || v["dtype"] != "F32")
      throw fail(where + "dtype " + v["dtype"].dump() + " (recur reads F32)");
    TensorF32 t;
    std::uint64_t count = 1;
    if (!v["shape"].is_array()) throw fail(where + "shape is not an array");
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw fail(where + "shape has a non-integer entry");
      const std::uint64_t dim = d.get<std::uint64_t>();
      if (dim > (std::uint64_t(1) << 40) || (dim && count > (std::uint64_t(1) << 40) / dim))
        throw fail(where + "shape too large");
      count *= dim;
      t.shape.push_back(std::int64_t(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw fail(where + "data_offsets must be [begin, end]");
    const std::uint64_t b = off[0].get<std::uint64_t>(), e = off[1].get<std::uint64_t>();
    if (b > e || e > data_size) throw fail(where + "data_offsets outside the file (truncated?)");
    if (e - b != 4 * count) throw fail(where + "data_offsets do not match its shape");
    t.data.resize(count);
    for (std::uint64_t i = 0; i < count; ++i) t.data[i] = get_f32_le(data + b + 4 * i);
    covered += e - b;
    st.tensors.emplace(key, std::move(t));
  }
  if (covered != data_size) throw fail("tensor data does not cover the data section exactly (truncated or padded?)");
  return st;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::random_device rd;
  const std::string tmp = path + ".tmp-" + std::to_string(rd() % 1000000);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot write: " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(path + ": write failed: " + why);
    }
    done += std::size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path + ": write failed: " + why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot rename into place: " + why);
  }
  // Make the rename itself durable.
  std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
  if (dir.empty()) dir = path.find('/') == 0 ? "/" : ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_safetensors(const std::string& path, const SafeTensors& st) {
  write_file_atomic(path, encode_safetensors(st));
}

SafeTensors read_safetensors(const std::string& path) {
  return decode_safetensors(read_file(path), path);
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::string head(8, '\0');
  in.read(&head[0], 8);
  if (in.gcount() != 8) throw Error(path + ": not a valid safetensors file: shorter than its 8-byte header length");
  const std::uint64_t n = get_u64_le(head);
  in.seekg(0, std::ios::end);
  const std::uint64_t size = std::uint64_t(in.tellg());
  if (n > size - 8) throw Error(path + ": not a valid safetensors file: header length " + std::to_string(n) + " exceeds the file size");
  in.seekg(8);
  std::string header(n, '\0');
  in.read(&header[0], std::streamsize(n));
  std::map<std::string, std::string> meta;
  json j;
  try {
    j = json::parse(header);
  } catch (const json::exception& e) {
    throw Error(path + ": not a valid safetensors file: header is not JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(path + ": not a valid safetensors file: header is not a JSON object");
  if (j.contains("__metadata__") && j["__metadata__"].is_object())
    for (const auto& [k, v] : j["__metadata__"].items())
      if (v.is_string()) meta[k] = v.get<std::string>();
  return meta;
}

// ---- model files -------------------------------------------------------------

template <class T>
SafeTensors model_to_safetensors(const Model<T>& model, const ModelInfo& info) {
  const ModelConfig& c = model.config();
  SafeTensors st;
  for (const ParamSpec& p : model.table().specs()) {
    TensorF32 t;
    if (p.is_vector)
      t.shape = {p.rows};
    else
      t.shape = {p.rows, p.cols};
    t.data.resize(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) t.data[i] = float(model.weights()[p.offset + i]);
    st.tensors.emplace(p.name, std::move(t));
  }
  st.metadata = {
      {"format", "recur/1"},
      {"task", to_string(c.task)},
      {"cell", cell_name(c.cell)},
      {"num_layers", std::to_string(c.layers)},
      {"hidden_size", std::to_string(c.hidden)},
      {"bidirectional", c.bidirectional ? "true" : "false"},
      {"tokenizer", to_string(info.tokenizer)},
      {"lowercase", info.lowercase() ? "true" : "false"},
      {"normalization", to_string(info.normalization)},
      {"vocab", json(info.vocab.tokens()).dump()},
  };
  if (c.task == Task::classify) st.metadata["labels"] = json(info.labels).dump();
  if (info.vocab.id(kUnknownToken) != Vocabulary::unknown) st.metadata["unknown_token"] = kUnknownToken;
  return st;
}

template <class T>
void save_model(const std::string& path, const Model<T>& model, const ModelInfo& info) {
  write_safetensors(path, model_to_safetensors(model, info));
}

template SafeTensors model_to_safetensors<float>(const Model<float>&, const ModelInfo&);
template SafeTensors model_to_safetensors<double>(const Model<double>&, const ModelInfo&);
template void save_model<float>(const std::string&, const Model<float>&, const ModelInfo&);
template void save_model<double>(const std::string&, const Model<double>&, const ModelInfo&);

LoadedModel load_model(const std::string& path) {
  SafeTensors st = read_safetensors(path);
  if (st.metadata.count("checkpoint"))
    throw Error(path + ": a training checkpoint, not a model (continue it with recur train --resume; "
                "--save writes the model file)");
  return model_from_safetensors(std::move(st), path);
}

LoadedModel model_from_safetensors(SafeTensors st, const std::string& path) {
  auto fail = [&](const std::string& what) { return Error(path + ": " + what); };
  auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = st.metadata.find(key);
    if (it == st.metadata.end()) throw fail("metadata has no '" + key + "' (not a recur model?)");
    return it->second;
  };
  auto meta_int = [&](const std::string& key) {
    const std::string& s = meta(key);
    try {
      std::size_t used = 0;
      const int v = std::stoi(s, &used);
      if (used == s.size() && v > 0) return v;
    } catch (const std::exception&) {
    }
    throw fail("metadata '" + key + "' is not a positive integer: '" + s + "'");
  };
  auto meta_strings = [&](const std::string& key) {
    try {
      const json j = json::parse(meta(key));
      return j.get<std::vector<std::string>>();
    } catch (const json::exception&) {
      throw fail("metadata '" + key + "' is not a JSON array of strings");
    }
  };
  if (meta("format") != "recur/1") throw fail("format '" + meta("format") + "' is not recur/1");
  const std::string& task = meta("task");
  if (task != "classify" && task != "lm") throw fail("unknown task '" + task + "' (known: classify, lm)");
  const std::string& bidi = meta("bidirectional");
  if (bidi != "true" && bidi != "false") throw fail("metadata 'bidirectional' must be true or false, not '" + bidi + "'");

  ModelInfo info;
  ModelConfig& c = info.config;
  const std::string& cell = meta("cell");  // (a missing key's message names the file already)
  const std::string& tokenizer = meta("tokenizer");
  try {
    c.cell = cell_from_name(cell);
    info.tokenizer = tokenizer_from_string(tokenizer);
  } catch (const Error& e) {
    throw fail(e.what());
  }
  c.layers = meta_int("num_layers");
  c.hidden = meta_int("hidden_size");
  // A model written before normalization was recorded read text as given, or
  // with ASCII letters lowercased: it keeps reading it that way.
  if (st.metadata.count("normalization")) {
    try {
      info.normalization = normalization_from_string(st.metadata["normalization"]);
    } catch (const Error& e) {
      throw fail(std::string("metadata ") + e.what());
    }
  } else {
    const bool lower = st.metadata.count("lowercase") && st.metadata["lowercase"] == "true";
    info.normalization = lower ? Normalization::ascii_lower : Normalization::none;
  }
  for (const auto& tok : meta_strings("vocab")) info.vocab.add(tok);
  if (info.vocab.size() == 0) throw fail("empty vocabulary");
  c.vocab = info.vocab.size();
  c.bidirectional = bidi == "true";
  if (task == "classify") {
    c.task = Task::classify;
    info.labels = meta_strings("labels");
    c.classes = int(info.labels.size());
  } else {
    c.task = Task::lm;
    c.classes = c.vocab;
    if (c.bidirectional) throw fail("a language model cannot be bidirectional");
  }
  // Any b_hh present: the model has the second bias (those absent are zero).
  c.bias_hh = std::any_of(st.tensors.begin(), st.tensors.end(),
                          [](const auto& kv) { return kv.first.rfind("rnn.bias_hh_l", 0) == 0; });
  if (st.tensors.count("embedding.weight")) {
    const auto& e = st.tensors.at("embedding.weight");
    if (e.shape.size() != 2 || e.shape[0] != c.vocab || e.shape[1] < 1 || e.shape[1] > (1 << 20))
      throw fail("tensor embedding.weight must have shape (vocabulary size " + std::to_string(c.vocab) + ", E)");
    c.embed = int(e.shape[1]);
  }
  if (c.classes < 2) throw fail(task == "lm" ? "needs at least 2 symbols" : "needs at least 2 labels");

  Model<float> model(c);
  auto& w = model.weights();
  for (const ParamSpec& p : model.table().specs()) {
    const auto it = st.tensors.find(p.name);
    if (it == st.tensors.end()) {
      if (p.name.rfind("rnn.bias_", 0) == 0) continue;  // an absent bias is zero (the contract)
      throw fail("missing tensor " + p.name);
    }
    const std::vector<std::int64_t> want =
        p.is_vector ? std::vector<std::int64_t>{p.rows} : std::vector<std::int64_t>{p.rows, p.cols};
    if (it->second.shape != want) {
      auto str = [](const std::vector<std::int64_t>& s) {
        std::string o = "(";
        for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
        return o + ")";
      };
      throw fail("tensor " + p.name + " has shape " + str(it->second.shape) + ", expected " + str(want));
    }
    std::copy(it->second.data.begin(), it->second.data.end(), w.begin() + std::ptrdiff_t(p.offset));
    st.tensors.erase(it);
  }
  if (!st.tensors.empty()) throw fail("unexpected tensor " + st.tensors.begin()->first);
  for (float x : w)
    if (!std::isfinite(x)) throw fail("a parameter is not finite (NaN or inf)");
  return {std::move(info), std::move(model)};
}

}  // namespace recur
