#include "recur/io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "recur/data.hpp"
#include "recur/error.hpp"

namespace recur {

using nlohmann::json;

namespace {

void put_u64_le(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
}

std::uint64_t get_u64_le(const char* s) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

// float <-> little-endian bytes, independent of the host's byte order.
void put_f32_le(std::string& out, float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  for (int i = 0; i < 4; ++i) out.push_back(char((u >> (8 * i)) & 0xFF));
}

// n floats stored little-endian at p, in place.
void f32_from_le(float* p, std::size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  (void)p, (void)n;  // already the host's order
#else
  auto* b = reinterpret_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i, b += 4) {
    std::swap(b[0], b[3]);
    std::swap(b[1], b[2]);
  }
#endif
}

// A JSON value's kind, for messages (never the value itself: it may be huge,
// deeply nested, or hold line breaks).
const char* kind_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "not a plain value";
  }
}

// Text from a file in a one-line message: control characters as '?'.
std::string one_line(const std::string& s) {
  std::string o = s;
  for (char& c : o)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return o;
}

// A name or value from a file in a message: one line, at most 80 bytes.
std::string shown(const std::string& s) { return s.size() > 80 ? one_line(s.substr(0, 80)) + "..." : one_line(s); }

std::string bytes_str(std::uint64_t n) { return std::to_string(n) + " bytes"; }

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
  if (h.size() > kMaxSafetensorsHeader)
    throw Error("the header (vocabulary, labels, tensor names) would be " + bytes_str(h.size()) +
                ", more than the safetensors format allows (" + bytes_str(kMaxSafetensorsHeader) + ")");
  std::string out;
  out.reserve(8 + h.size() + offset);
  put_u64_le(out, h.size());
  out += h;
  for (const auto& [name, t] : st.tensors)
    for (float f : t.data) put_f32_le(out, f);
  return out;
}

SafeTensorsHeader parse_safetensors_header(std::string_view text, const std::string& name) {
  auto fail = [&](const std::string& what) { return Error(name + ": not a valid safetensors file: " + what); };
  json header;
  try {
    header = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw fail(std::string("header is not JSON (") + e.what() + ")");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  const std::uint64_t limit = max_tensor_bytes();
  SafeTensorsHeader out;
  for (const auto& [key, v] : header.items()) {
    if (key == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__ is not an object");
      for (const auto& [mk, mv] : v.items()) {
        if (!mv.is_string()) throw fail("metadata value '" + shown(mk) + "' is not a string");
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + shown(key) + "': ";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw fail(where + "needs dtype, shape and data_offsets");
    const json& dtype = v["dtype"];
    if (!dtype.is_string()) throw fail(where + "dtype is " + kind_of(dtype) + ", not a string");
    if (dtype != "F32") throw fail(where + "dtype " + shown(dtype.get<std::string>()) + " (recur reads F32)");
    TensorEntry t;
    t.name = key;
    const json& shape = v["shape"];
    if (!shape.is_array()) throw fail(where + "shape is not an array");
    // Elements counted in 64 bits, refused as soon as the bytes pass the limit.
    std::uint64_t count = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) throw fail(where + "shape has a non-integer entry");
      const std::uint64_t dim = d.get<std::uint64_t>();
      if (dim && count > limit / 4 / dim)
        throw fail(where + "shape claims more than " + bytes_str(limit) + " (RECUR_MAX_TENSOR_BYTES)");
      count *= dim;
      t.shape.push_back(std::int64_t(dim));
    }
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw fail(where + "data_offsets must be [begin, end]");
    t.begin = off[0].get<std::uint64_t>(), t.end = off[1].get<std::uint64_t>();
    if (t.begin > t.end || t.end - t.begin != 4 * count) throw fail(where + "data_offsets do not match its shape");
    out.tensors.push_back(std::move(t));
  }
  // The tensors tile the data section: sorted by offset, each begins where the
  // one before ends (no gap, no two tensors sharing bytes), from 0.
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  for (const TensorEntry& t : out.tensors) {
    if (t.begin != out.data_bytes)
      throw fail("tensor '" + shown(t.name) + "': data_offsets " +
                 (t.begin < out.data_bytes ? "overlap another tensor's" : "leave a gap after the previous tensor"));
    out.data_bytes = t.end;
  }
  return out;
}

namespace {

// Reads up to n bytes into p; returns how many were read.
std::uint64_t read_some(std::istream& in, char* p, std::uint64_t n) {
  in.read(p, std::streamsize(n));
  return std::uint64_t(in.gcount());
}

// The 8-byte length and the header, checked against the limits and `size`.
SafeTensorsHeader read_header(std::istream& in, const std::string& name, std::uint64_t size) {
  auto fail = [&](const std::string& what) { return Error(name + ": not a valid safetensors file: " + what); };
  char head[8];
  if (read_some(in, head, 8) != 8) throw fail("shorter than its 8-byte header length");
  const std::uint64_t n = get_u64_le(head);
  if (size != kUnknownSize && n > size - 8) throw fail("header length " + std::to_string(n) + " exceeds the file size");
  if (n > kMaxSafetensorsHeader)
    throw fail("header length " + std::to_string(n) + " is more than the format allows (" +
               std::to_string(kMaxSafetensorsHeader) + ")");
  // (in pieces: from a pipe, only what arrives is allocated)
  std::string text;
  for (std::uint64_t done = 0; done < n;) {
    const std::uint64_t k = std::min<std::uint64_t>(std::uint64_t(1) << 20, n - done);
    text.resize(std::size_t(done + k));
    if (read_some(in, &text[std::size_t(done)], k) != k)
      throw fail("header length " + std::to_string(n) + " exceeds the file size");
    done += k;
  }
  SafeTensorsHeader h = parse_safetensors_header(text, name);
  if (size != kUnknownSize && h.data_bytes != size - 8 - n) {
    if (h.data_bytes > size - 8 - n)
      throw fail("the header claims " + bytes_str(h.data_bytes) + " of tensor data, the file holds " +
                 bytes_str(size - 8 - n) + " (truncated?)");
    throw fail("tensor data does not cover the data section exactly (truncated or padded?)");
  }
  return h;
}

// A model file is opened as a regular file when it is one (its size is known
// before reading); anything else (a pipe) is read as a stream.
std::uint64_t file_size_of(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) == 0 && S_ISREG(sb.st_mode)) return std::uint64_t(sb.st_size);
  return kUnknownSize;
}

}  // namespace

SafeTensors read_safetensors(std::istream& in, const std::string& name, std::uint64_t size) {
  auto fail = [&](const std::string& what) { return Error(name + ": not a valid safetensors file: " + what); };
  SafeTensorsHeader h = read_header(in, name, size);
  SafeTensors st;
  st.metadata = std::move(h.metadata);
  for (TensorEntry& e : h.tensors) {
    TensorF32 t;
    t.shape = std::move(e.shape);
    const std::uint64_t count = (e.end - e.begin) / 4;
    if (size != kUnknownSize) {  // the header's claims already checked against the file
      t.data.resize(std::size_t(count));
      if (read_some(in, reinterpret_cast<char*>(t.data.data()), 4 * count) != 4 * count)
        throw fail("tensor data does not cover the data section exactly (truncated or padded?)");
    } else {  // a stream: grow with the bytes that arrive
      const std::uint64_t chunk = 1 << 18;  // floats
      for (std::uint64_t done = 0; done < count;) {
        const std::uint64_t k = std::min(chunk, count - done);
        t.data.resize(std::size_t(done + k));
        if (read_some(in, reinterpret_cast<char*>(t.data.data() + done), 4 * k) != 4 * k)
          throw fail("tensor data does not cover the data section exactly (truncated or padded?)");
        done += k;
      }
    }
    f32_from_le(t.data.data(), t.data.size());
    if (!st.tensors.emplace(std::move(e.name), std::move(t)).second) throw fail("a tensor name appears twice");
  }
  if (in.peek() != std::char_traits<char>::eof())
    throw fail("tensor data does not cover the data section exactly (truncated or padded?)");
  return st;
}

SafeTensors decode_safetensors(const std::string& bytes, const std::string& name) {
  std::istringstream in(bytes);
  return read_safetensors(in, name, bytes.size());
}

std::map<std::string, std::string> read_safetensors_metadata(std::istream& in, const std::string& name,
                                                             std::uint64_t size) {
  return read_header(in, name, size).metadata;
}

namespace {
std::ifstream open_for_reading(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  return in;
}
}  // namespace

SafeTensors read_safetensors(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  const std::uint64_t size = file_size_of(path);
  SafeTensors st = read_safetensors(in, path, size);
  if (in.bad()) throw Error(path + ": read error");
  return st;
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  return read_safetensors_metadata(in, path, file_size_of(path));
}

// ---- writing -----------------------------------------------------------------

namespace {

// "dir/name" -> {"dir", "name"}; "name" -> {".", "name"}.
std::pair<std::string, std::string> split_path(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// Temporary files "<name>.tmp-<pid>-<n>" of `path` whose process no longer
// runs, and "<name>.tmp-<n>" written by versions before the pid was in the
// name, are left-overs of a killed save: removed. (A live process's are kept:
// it may be saving the same file now.)
void remove_stale_temporaries(const std::string& path) {
  const auto [dir, base] = split_path(path);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const std::string prefix = base + ".tmp-";
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = n.substr(prefix.size());
    const std::size_t dash = rest.find('-');
    bool stale = false;
    if (dash == std::string::npos) {
      stale = digits(rest);  // the old form
    } else if (digits(rest.substr(0, dash)) && digits(rest.substr(dash + 1))) {
      const long pid = std::stol(rest.substr(0, dash));
      stale = pid != long(::getpid()) && pid > 0 && pid <= INT32_MAX && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;
    }
    if (stale) ::unlink((dir + "/" + n).c_str());
  }
  ::closedir(d);
}

// What failed, for the one line a user reads.
std::string why(int err) {
  std::string s = std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) s += " (the disk is full)";
  if (err == EFBIG) s += " (the file size limit was reached)";
  return s;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  remove_stale_temporaries(path);
  std::random_device rd;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
  const bool existed = ::access(path.c_str(), F_OK) == 0;
  // One line for every failure after the temporary file exists: it is removed,
  // and the file being replaced was never touched.
  auto failed = [&](const std::string& what, int err) {
    ::unlink(tmp.c_str());
    return Error(path + ": " + what + ": " + why(err) + "; " +
                 (existed ? "the previous file is unchanged" : "nothing was written"));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot write: " + why(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw failed("cannot save", err);
    }
    done += std::size_t(w);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    throw failed("cannot save", err);
  }
  if (::close(fd) != 0) throw failed("cannot save", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw failed("cannot rename into place", errno);
  // Make the rename itself durable.
  const int dfd = ::open(split_path(path).first.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_safetensors(const std::string& path, const SafeTensors& st) {
  std::string bytes;
  try {
    bytes = encode_safetensors(st);
  } catch (const Error& e) {
    throw Error(path + ": cannot save: " + e.what());
  }
  write_file_atomic(path, bytes);
}

void check_storable(const ModelInfo& info, const std::string& path) {
  // The header holds the vocabulary and labels as JSON, and about a kilobyte
  // more (tensor entries, the other metadata).
  const std::uint64_t vocab = json(info.vocab.tokens()).dump().size(), labels = json(info.labels).dump().size();
  // As JSON inside a JSON string: quotes and backslashes are escaped again.
  const std::uint64_t need = 2 * (vocab + labels) + 4096;
  if (need > kMaxSafetensorsHeader)
    throw Error(path + ": a vocabulary of " + std::to_string(info.vocab.size()) + " tokens and " +
                std::to_string(info.labels.size()) + " labels needs about " + bytes_str(need) +
                " of model file header, more than the safetensors format allows (" +
                bytes_str(kMaxSafetensorsHeader) + "); keep fewer words (--min-count, --max-vocab)");
}

// ---- the lock of a file being written by one run -------------------------------

FileLock::FileLock(const std::string& target) : path_(target + ".lock") {
  // The lock file may be replaced between open and flock by its owner
  // releasing it (unlink): then the lock taken is on a file no longer at
  // path_, and it is taken again on the new one.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(path_ + ": cannot create the lock file: " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      std::string owner(32, '\0');
      const ssize_t n = ::pread(fd, &owner[0], owner.size(), 0);
      owner.resize(n > 0 ? std::size_t(n) : 0);
      while (!owner.empty() && (owner.back() == '\n' || owner.back() == '\0')) owner.pop_back();
      ::close(fd);
      if (err != EWOULDBLOCK) throw Error(path_ + ": cannot lock: " + std::strerror(err));
      const bool pid = !owner.empty() && owner.size() < 12 &&
                       std::all_of(owner.begin(), owner.end(), [](char c) { return c >= '0' && c <= '9'; });
      throw Error(target + ": another training run" + (pid ? " (pid " + owner + ")" : std::string()) +
                  " is writing this checkpoint; wait for it to end, or give this run another --checkpoint or --save");
    }
    struct stat held, now;
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // The pid is only for the message a second run prints.
      }
      fd_ = fd;
      return;
    }
    ::close(fd);
  }
  throw Error(path_ + ": cannot lock: the lock file keeps changing");
}

FileLock::~FileLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding the lock: a waiting opener then retries
  ::close(fd_);
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
  if (c.task == Task::classify && c.pool != PoolKind::last) st.metadata["pool"] = to_string(c.pool);
  if (c.subwords.enabled()) {
    st.metadata["subwords"] = to_string(c.subwords);
    st.metadata["buckets"] = std::to_string(c.subwords.buckets);
  }
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
    throw fail("metadata '" + key + "' is not a positive integer: '" + shown(s) + "'");
  };
  auto meta_strings = [&](const std::string& key) {
    try {
      const json j = json::parse(meta(key));
      return j.get<std::vector<std::string>>();
    } catch (const json::exception&) {
      throw fail("metadata '" + key + "' is not a JSON array of strings");
    }
  };
  if (meta("format") != "recur/1") throw fail("format '" + shown(meta("format")) + "' is not recur/1");
  const std::string& task = meta("task");
  if (task != "classify" && task != "lm") throw fail("unknown task '" + shown(task) + "' (known: classify, lm)");
  const std::string& bidi = meta("bidirectional");
  if (bidi != "true" && bidi != "false")
    throw fail("metadata 'bidirectional' must be true or false, not '" + shown(bidi) + "'");

  ModelInfo info;
  ModelConfig& c = info.config;
  const std::string& cell = meta("cell");  // (a missing key's message names the file already)
  const std::string& tokenizer = meta("tokenizer");
  try {
    c.cell = cell_from_name(cell);
    info.tokenizer = tokenizer_from_string(tokenizer);
  } catch (const Error& e) {
    throw fail(one_line(e.what()));
  }
  c.layers = meta_int("num_layers");
  c.hidden = meta_int("hidden_size");
  // A model written before normalization was recorded read text as given, or
  // with ASCII letters lowercased: it keeps reading it that way.
  if (st.metadata.count("normalization")) {
    try {
      info.normalization = normalization_from_string(st.metadata["normalization"]);
    } catch (const Error& e) {
      throw fail("metadata " + one_line(e.what()));
    }
  } else {
    const bool lower = st.metadata.count("lowercase") && st.metadata["lowercase"] == "true";
    info.normalization = lower ? Normalization::ascii_lower : Normalization::none;
  }
  const std::vector<std::string> tokens = meta_strings("vocab");
  for (const auto& tok : tokens) {
    if (info.vocab.id(tok) != Vocabulary::unknown) throw fail("the vocabulary has the token '" + shown(tok) + "' twice");
    info.vocab.add(tok);
  }
  if (info.vocab.size() == 0) throw fail("empty vocabulary");
  c.vocab = info.vocab.size();
  c.bidirectional = bidi == "true";
  if (task == "classify") {
    c.task = Task::classify;
    info.labels = meta_strings("labels");
    std::vector<std::string> sorted = info.labels;
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end()) throw fail("the label '" + shown(*twice) + "' appears twice");
    c.classes = int(info.labels.size());
    if (st.metadata.count("pool")) {  // absent: the final states, as every model before pooling
      try {
        c.pool = pool_from_string(st.metadata["pool"]);
      } catch (const Error& e) {
        throw fail("metadata " + one_line(e.what()));
      }
    }
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
    if (e.shape.size() != 2 || e.shape[0] != c.vocab || e.shape[1] < 1 || e.shape[1] > INT32_MAX)
      throw fail("tensor embedding.weight must have shape (vocabulary size " + std::to_string(c.vocab) + ", E)");
    c.embed = int(e.shape[1]);
  }
  if (st.metadata.count("subwords")) {  // absent: words only, as every model before subwords
    if (c.task != Task::classify || c.embed == 0) throw fail("metadata 'subwords' on a model that is not a classifier with an embedding");
    const int buckets = meta_int("buckets");
    try {
      c.subwords = subword_spec(st.metadata["subwords"], buckets, "metadata 'subwords'");
    } catch (const Error& e) {
      throw fail(one_line(e.what()));
    }
  }
  if (c.classes < 2) throw fail(task == "lm" ? "needs at least 2 symbols" : "needs at least 2 labels");

  // What the configuration claims, checked against the tensors the file holds
  // before the model is allocated: numbers in a header cannot make recur
  // allocate more than the file carries (nor more than max_tensor_bytes()).
  try {
    check_model_size(c);
  } catch (const Error& e) {
    throw fail(e.what());
  }
  for (const TensorShape& p : parameter_shapes(c)) {
    const auto it = st.tensors.find(p.name);
    if (it == st.tensors.end()) {
      if (p.name.rfind("rnn.bias_", 0) == 0) continue;  // an absent bias is zero (the contract)
      throw fail("missing tensor " + p.name);
    }
    const std::vector<std::int64_t> want(p.shape.begin(), p.shape.end());
    if (it->second.shape != want) {
      auto str = [](const std::vector<std::int64_t>& s) {
        std::string o = "(";
        for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
        return o + ")";
      };
      throw fail("tensor " + p.name + " has shape " + str(it->second.shape) + ", expected " + str(want));
    }
  }
  Model<float> model(c);
  auto& w = model.weights();
  for (const ParamSpec& p : model.table().specs()) {
    const auto it = st.tensors.find(p.name);
    if (it == st.tensors.end()) continue;  // an absent bias (checked above)
    std::copy(it->second.data.begin(), it->second.data.end(), w.begin() + std::ptrdiff_t(p.offset));
    st.tensors.erase(it);
  }
  if (!st.tensors.empty()) throw fail("unexpected tensor " + shown(st.tensors.begin()->first));
  for (float x : w)
    if (!std::isfinite(x)) throw fail("a parameter is not finite (NaN or inf)");
  return {std::move(info), std::move(model)};
}

}  // namespace recur
