// The sequence-to-sequence application (include/recur/translator.hpp): model
// files, batched greedy and beam-search decoding, evaluation.
#include "recur/translator.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <limits>
#include <numeric>

#include "recur/io.hpp"
#include "recur/layers.hpp"
#include "recur/seq2seq.hpp"
#include "session.hpp"
#include "work.hpp"

namespace recur {

struct Translator::Impl {
  Seq2SeqInfo info;
  std::vector<Seq2Seq<float>> members;  // info.members of them
  Impl(Seq2SeqInfo i, std::vector<Seq2Seq<float>> m) : info(std::move(i)), members(std::move(m)) {
    this->info.members = int(members.size());
  }
};

Translator::Translator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Translator::Translator(Translator&&) noexcept = default;
Translator& Translator::operator=(Translator&&) noexcept = default;
Translator::~Translator() = default;
const Seq2SeqInfo& Translator::info() const { return impl_->info; }
const Seq2Seq<float>& Translator::model(int member) const {
  if (member < 0 || member >= int(impl_->members.size()))
    throw Error("model " + std::to_string(member) + ": this model file holds members 0 to " +
                std::to_string(impl_->members.size() - 1));
  return impl_->members[std::size_t(member)];
}

void check(const DecodeOptions& o) {
  if (o.beam < 1) throw Error("--beam must be at least 1");
  if (o.nbest < 1 || o.nbest > o.beam) throw Error("--nbest must be between 1 and --beam (" + std::to_string(o.beam) + ")");
  if (!(o.length_penalty >= 0)) throw Error("--length-penalty must be >= 0");
  if (o.max_length < 0) throw Error("--max-len must be >= 0 (0: 3 x the source's length + 10)");
  if (o.threads < 1) throw Error("--threads must be at least 1");
}

long edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<long> prev(b.size() + 1), cur(b.size() + 1);
  std::iota(prev.begin(), prev.end(), 0L);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = long(i);
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// ---- model files -----------------------------------------------------------------

void check_storable(const Seq2SeqInfo& info, const std::string& path) {
  // The header holds both vocabularies as JSON inside JSON strings (quotes and
  // backslashes escaped again), and about a kilobyte more.
  const std::uint64_t need = 2 * (nlohmann::json(info.src_vocab.tokens()).dump().size() +
                                  nlohmann::json(info.tgt_vocab.tokens()).dump().size()) + 4096;
  if (need > kMaxSafetensorsHeader)
    throw Error(path + ": vocabularies of " + std::to_string(info.src_vocab.size()) + " and " +
                std::to_string(info.tgt_vocab.size()) + " tokens need about " + std::to_string(need) +
                " bytes of model file header, more than the safetensors format allows (" +
                std::to_string(kMaxSafetensorsHeader) + " bytes); use a character or symbol tokenizer");
}

namespace {

using nlohmann::json;

// An ensemble's member k's tensors are named as a torch.nn.ModuleList
// `members` of the models would name them: members.k.encoder.rnn.weight_ih_l0.
std::string member_prefix(int k, int members) { return members > 1 ? "members." + std::to_string(k) + "." : ""; }

// The tensors of models laid out by `table`, member k's weights at weights[k].
SafeTensors to_safetensors(const ParamTable& table, const std::vector<const float*>& weights, const Seq2SeqInfo& info) {
  SafeTensors st;
  for (std::size_t k = 0; k < weights.size(); ++k)
    for (const ParamSpec& p : table.specs()) {
      TensorF32 t;
      t.shape = p.is_vector ? std::vector<std::int64_t>{p.rows} : std::vector<std::int64_t>{p.rows, p.cols};
      t.data.assign(weights[k] + p.offset, weights[k] + p.offset + p.size());
      st.tensors.emplace(member_prefix(int(k), int(weights.size())) + p.name, std::move(t));
    }
  const Seq2SeqConfig& c = info.config;
  st.metadata = {
      {"format", "recur/1"},
      {"task", "seq2seq"},
      {"src_vocab", json(info.src_vocab.tokens()).dump()},
      {"tgt_vocab", json(info.tgt_vocab.tokens()).dump()},
      {"src_tokenizer", to_string(info.src_tokenizer)},
      {"tgt_tokenizer", to_string(info.tgt_tokenizer)},
      {"src_normalization", to_string(info.src_normalization)},
      {"tgt_normalization", to_string(info.tgt_normalization)},
      {"attention", to_string(c.attention)},
      {"input_feeding", c.input_feeding ? "true" : "false"},
      {"encoder_cell", cell_name(c.encoder.cell)},
      {"encoder_num_layers", std::to_string(c.encoder.layers)},
      {"encoder_hidden_size", std::to_string(c.encoder.hidden)},
      {"encoder_bidirectional", c.encoder.bidirectional ? "true" : "false"},
      {"encoder_embed", std::to_string(c.encoder.embed)},
      {"decoder_cell", cell_name(c.cell)},
      {"decoder_num_layers", std::to_string(c.layers)},
      {"decoder_hidden_size", std::to_string(c.hidden)},
      {"decoder_embed", std::to_string(c.embed)},
  };
  if (weights.size() > 1) st.metadata["members"] = std::to_string(weights.size());
  return st;
}

struct Loaded {
  Seq2SeqInfo info;
  std::vector<Seq2Seq<float>> members;
};

Loaded from_safetensors(SafeTensors st, const std::string& path) {
  auto fail = [&](const std::string& what) { return Error(path + ": " + what); };
  auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = st.metadata.find(key);
    if (it == st.metadata.end()) throw fail("metadata has no '" + key + "' (not a recur sequence-to-sequence model?)");
    return it->second;
  };
  auto meta_int = [&](const std::string& key, int lo) {
    const std::string& s = meta(key);
    try {
      std::size_t used = 0;
      const int v = std::stoi(s, &used);
      if (used == s.size() && v >= lo) return v;
    } catch (const std::exception&) {
    }
    throw fail("metadata '" + key + "' is not an integer >= " + std::to_string(lo) + ": '" + s + "'");
  };
  auto meta_bool = [&](const std::string& key) {
    const std::string& s = meta(key);
    if (s != "true" && s != "false") throw fail("metadata '" + key + "' must be true or false, not '" + s + "'");
    return s == "true";
  };
  auto vocab = [&](const std::string& key) {
    Vocabulary v;
    try {
      for (const auto& t : json::parse(meta(key)).get<std::vector<std::string>>()) v.add(t);
    } catch (const json::exception&) {
      throw fail("metadata '" + key + "' is not a JSON array of strings");
    }
    if (v.size() == 0) throw fail("metadata '" + key + "' is empty");
    return v;
  };
  if (meta("format") != "recur/1") throw fail("format '" + meta("format") + "' is not recur/1");
  if (meta("task") != "seq2seq") throw fail("a " + meta("task") + " model, not a sequence-to-sequence model");
  Seq2SeqInfo info;
  try {
    info.src_tokenizer = tokenizer_from_string(meta("src_tokenizer"));
    info.tgt_tokenizer = tokenizer_from_string(meta("tgt_tokenizer"));
    info.src_normalization = normalization_from_string(meta("src_normalization"));
    info.tgt_normalization = normalization_from_string(meta("tgt_normalization"));
    info.config.attention = attention_from_string(meta("attention"));
    info.config.encoder.cell = cell_from_name(meta("encoder_cell"));
    info.config.cell = cell_from_name(meta("decoder_cell"));
  } catch (const Error& e) {
    if (std::string(e.what()).rfind(path, 0) == 0) throw;
    throw fail(std::string("metadata: ") + e.what());
  }
  info.src_vocab = vocab("src_vocab");
  info.tgt_vocab = vocab("tgt_vocab");
  if (info.tgt_vocab.id(kBeginToken) != 0 || info.tgt_vocab.id(kEndToken) != 1)
    throw fail("the target vocabulary must start with " + kBeginToken + " and " + kEndToken);
  Seq2SeqConfig& c = info.config;
  c.input_feeding = meta_bool("input_feeding");
  c.encoder.layers = meta_int("encoder_num_layers", 1);
  c.encoder.hidden = meta_int("encoder_hidden_size", 1);
  c.encoder.bidirectional = meta_bool("encoder_bidirectional");
  c.encoder.embed = meta_int("encoder_embed", 0);
  c.encoder.vocab = info.src_vocab.size();
  c.layers = meta_int("decoder_num_layers", 1);
  c.hidden = meta_int("decoder_hidden_size", 1);
  c.embed = meta_int("decoder_embed", 0);
  c.tgt_vocab = info.tgt_vocab.size();
  const int members = st.metadata.count("members") ? meta_int("members", 1) : 1;
  if (members > 64) throw fail("metadata 'members' says " + std::to_string(members) + " models; at most 64 are read");
  info.members = members;
  c.encoder.bias_hh = st.tensors.count(member_prefix(0, members) + "encoder.rnn.bias_hh_l0") > 0;
  c.bias_hh = st.tensors.count(member_prefix(0, members) + "decoder.rnn.bias_hh_l0") > 0;
  std::vector<Seq2Seq<float>> built;
  try {
    for (int k = 0; k < members; ++k) built.emplace_back(c);
  } catch (const Error& e) {
    throw fail(e.what());
  }
  for (int k = 0; k < members; ++k) {
    Seq2Seq<float>& model = built[std::size_t(k)];
    for (const ParamSpec& p : model.table().specs()) {
      const std::string name = member_prefix(k, members) + p.name;
      const auto it = st.tensors.find(name);
      if (it == st.tensors.end()) throw fail("missing tensor " + name);
      const std::vector<std::int64_t> want =
          p.is_vector ? std::vector<std::int64_t>{p.rows} : std::vector<std::int64_t>{p.rows, p.cols};
      if (it->second.shape != want) throw fail("tensor " + name + " does not have the shape its configuration says");
      std::copy(it->second.data.begin(), it->second.data.end(), model.weights().begin() + std::ptrdiff_t(p.offset));
      st.tensors.erase(it);
    }
    for (float x : model.weights())
      if (!std::isfinite(x)) throw fail("a parameter is not finite (NaN or inf)");
  }
  if (!st.tensors.empty()) throw fail("unexpected tensor " + st.tensors.begin()->first);
  return {std::move(info), std::move(built)};
}

}  // namespace

Translator Translator::load(const std::string& path) {
  SafeTensors st = read_safetensors(path);
  if (st.metadata.count("checkpoint"))
    throw Error(path + ": a training checkpoint, not a model (continue it with recur train --resume; "
                "--save writes the model file)");
  return from_safetensors(std::move(st), path);
}

Translator Translator::from_safetensors(SafeTensors st, const std::string& name) {
  Loaded l = recur::from_safetensors(std::move(st), name);
  return Translator(std::make_unique<Impl>(std::move(l.info), std::move(l.members)));
}

void Translator::save(const std::string& path) const { write_safetensors(path, to_safetensors()); }

SafeTensors Translator::to_safetensors() const {
  std::vector<const float*> weights;
  for (const Seq2Seq<float>& m : impl_->members) weights.push_back(m.weights().data());
  return recur::to_safetensors(impl_->members[0].table(), weights, impl_->info);
}

void save_seq2seq(const std::string& path, const Seq2Seq<float>& model, const Seq2SeqInfo& info) {
  save_seq2seq(path, std::vector<const Seq2Seq<float>*>{&model}, info);
}

void save_seq2seq(const std::string& path, const std::vector<const Seq2Seq<float>*>& members, const Seq2SeqInfo& info) {
  if (members.empty()) throw Error(path + ": no model to save");
  std::vector<const float*> weights;
  for (const Seq2Seq<float>* m : members) weights.push_back(m->weights().data());
  write_safetensors(path, to_safetensors(members[0]->table(), weights, info));
}

// ---- decoding ------------------------------------------------------------------------

namespace {

struct SourceIds {
  std::vector<std::string> tokens;
  std::vector<int> ids;
  int unknown = 0;
};

SourceIds read_source(const Seq2SeqInfo& info, const std::string& text) {
  SourceIds s;
  s.tokens = tokenize(info.src_tokenizer, normalize(text, info.src_normalization));
  for (const auto& t : s.tokens) {
    const int id = info.src_vocab.id(t);
    s.unknown += id == Vocabulary::unknown;
    s.ids.push_back(id == Vocabulary::unknown ? info.src_vocab.id(kUnknownToken) : id);
  }
  return s;
}

struct Hyp {
  int src = 0;
  std::vector<int> ids;
  double log_prob = 0;
  bool finished = false;  // wrote <eos>
  std::vector<std::vector<float>> attention;
};

// One model of the search: several decode as one (an ensemble). Each reads
// the sources through its own vocabulary; `own[v]` is its id of the first
// member's target symbol v (the first member's: v).
struct Member {
  const Seq2Seq<float>* model = nullptr;
  std::vector<std::vector<int>> sources;
  std::vector<int> own;
  Seq2Seq<float>::DecodeState state;
};

// Beam search over a chunk of sources, all at once: each live hypothesis is a
// row of the decoder; at every step each source's candidates (each live
// hypothesis's `beam` best next symbols, never <bos>) are ranked by log
// probability and taken until `beam` live ones are kept; a candidate taken
// that writes <eos> is finished. One that reaches the maximum length can only
// write <eos> next. A source is done when it has `beam` finished hypotheses
// and none of its live ones scores better now than the `beam`-th best finished
// one would (exact for length_penalty 0, where a score only falls as a
// hypothesis grows). Beam 1 is greedy decoding. Per source, the best `beam`
// finished, best first by score. With several members, a symbol's log
// probability is the mean of theirs (each member's log-softmax), and the
// attention weights are the first member's.
std::vector<std::vector<Hyp>> beam_search(std::vector<Member>& members, const DecodeOptions& o, int bos, int eos) {
  const std::vector<std::vector<int>>& sources = members[0].sources;
  const int K = o.beam, B = int(sources.size());
  for (Member& m : members) m.model->encode(m.sources, m.state);
  std::vector<Hyp> live(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) live[std::size_t(b)].src = b;
  std::vector<int> prev(static_cast<std::size_t>(B), bos);
  std::vector<std::vector<Hyp>> done(static_cast<std::size_t>(B));
  auto max_len = [&](int b) { return o.max_length > 0 ? o.max_length : 3 * int(sources[std::size_t(b)].size()) + 10; };
  auto score = [&](const Hyp& h) { return h.log_prob / std::pow(double(h.ids.size() + 1), o.length_penalty); };
  // The `beam`-th best finished score of source b (-inf while fewer).
  std::vector<double> kth(static_cast<std::size_t>(B), -std::numeric_limits<double>::infinity());
  auto add_finished = [&](int b, Hyp h) {
    auto& d = done[std::size_t(b)];
    d.push_back(std::move(h));
    if (int(d.size()) < K) return;
    std::vector<double> scores;
    for (const Hyp& x : d) scores.push_back(score(x));
    std::nth_element(scores.begin(), scores.begin() + (K - 1), scores.end(), std::greater<double>());
    kth[std::size_t(b)] = scores[std::size_t(K - 1)];
  };
  Matrix<float> logits, attention;
  std::vector<double> lp;
  struct Cand {
    int row, id;
    double log_prob;
  };
  std::vector<int> own_prev;
  const int V = int(members[0].own.size()), k = std::min(K, V);
  while (!live.empty()) {
    // lps(r, v): row r's log probability of symbol v, the members' mean.
    Matrix<double> lps = Matrix<double>::Zero(Eigen::Index(live.size()), V);
    for (std::size_t i = 0; i < members.size(); ++i) {
      Member& m = members[i];
      own_prev.clear();
      for (int id : prev) own_prev.push_back(m.own[std::size_t(id)]);
      m.model->step(own_prev, m.state, logits, o.attention && i == 0 ? &attention : nullptr);
      for (int r = 0; r < int(live.size()); ++r) {  // log-softmax
        const double mx = logits.row(r).maxCoeff();
        double z = 0;
        for (Eigen::Index v = 0; v < logits.cols(); ++v) z += std::exp(double(logits(r, v)) - mx);
        const double lz = std::log(z);
        for (int v = 0; v < V; ++v)
          lps(r, v) += (double(logits(r, m.own[std::size_t(v)])) - mx - lz) / double(members.size());
      }
    }
    std::vector<std::vector<Cand>> cands(static_cast<std::size_t>(B));
    std::vector<int> order(static_cast<std::size_t>(V));
    for (int r = 0; r < int(live.size()); ++r) {  // each row's k best next symbols
      lp.assign(lps.row(r).data(), lps.row(r).data() + V);
      const Hyp& h = live[std::size_t(r)];
      if (int(h.ids.size()) >= max_len(h.src)) {  // long enough: it can only end here
        cands[std::size_t(h.src)].push_back({r, eos, h.log_prob + lp[std::size_t(eos)]});
        continue;
      }
      lp[std::size_t(bos)] = -std::numeric_limits<double>::infinity();  // never an output
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int a, int b) { return lp[std::size_t(a)] > lp[std::size_t(b)]; });
      for (int i = 0; i < k; ++i)
        if (order[std::size_t(i)] != bos)
          cands[std::size_t(h.src)].push_back({r, order[std::size_t(i)], h.log_prob + lp[std::size_t(order[std::size_t(i)])]});
    }
    std::vector<Hyp> next;
    std::vector<int> rows;
    for (int b = 0; b < B; ++b) {
      auto& c = cands[std::size_t(b)];
      std::stable_sort(c.begin(), c.end(), [](const Cand& x, const Cand& y) { return x.log_prob > y.log_prob; });
      int kept = 0;
      for (const Cand& x : c) {
        if (kept == K) break;
        Hyp h = live[std::size_t(x.row)];
        h.log_prob = x.log_prob;
        if (o.attention) {
          const int S = int(sources[std::size_t(b)].size());
          h.attention.emplace_back(attention.row(x.row).data(), attention.row(x.row).data() + S);
        }
        if (x.id == eos) {
          h.finished = true;
          add_finished(b, std::move(h));
          continue;
        }
        h.ids.push_back(x.id);
        ++kept;
        next.push_back(std::move(h));
        rows.push_back(x.row);
      }
    }
    // A source whose live hypotheses cannot beat its `beam` finished ones now is done: its rows go.
    std::vector<char> open(static_cast<std::size_t>(B), 0);
    for (const Hyp& h : next)
      if (score(h) > kth[std::size_t(h.src)]) open[std::size_t(h.src)] = 1;
    live.clear();
    std::vector<int> keep;
    prev.clear();
    for (std::size_t i = 0; i < next.size(); ++i)
      if (open[std::size_t(next[i].src)]) {
        prev.push_back(next[i].ids.back());
        keep.push_back(rows[i]);
        live.push_back(std::move(next[i]));
      }
    if (!live.empty())
      for (Member& m : members) m.model->select(m.state, keep);
  }
  for (auto& d : done) {
    std::stable_sort(d.begin(), d.end(), [&](const Hyp& a, const Hyp& b) { return score(a) > score(b); });
    if (int(d.size()) > K) d.resize(std::size_t(K));
  }
  return done;
}

// A model and what its file says: one member of what decodes.
using Part = std::pair<const Seq2Seq<float>*, const Seq2SeqInfo*>;

// Each member's id of every target symbol of the first (Member::own); throws
// unless the members write the same symbols the same way. A model is what
// one file holds: the members of an ensemble file are consecutive parts
// sharing its Seq2SeqInfo, and the messages count models, not members.
std::vector<std::vector<int>> target_maps(const std::vector<Part>& parts) {
  if (parts.empty()) throw Error("an ensemble needs at least one model");
  const Seq2SeqInfo& first = *parts[0].second;
  std::vector<std::vector<int>> maps;
  int model = 0;
  const Seq2SeqInfo* last = nullptr;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Seq2SeqInfo& info = *parts[i].second;
    if (&info != last) ++model, last = &info;
    const std::string which = "model " + std::to_string(model) + " of the ensemble";
    if (info.tgt_tokenizer != first.tgt_tokenizer || info.tgt_normalization != first.tgt_normalization)
      throw Error(which + " splits or normalizes its outputs otherwise than model 1");
    if (info.tgt_vocab.size() != first.tgt_vocab.size())
      throw Error(which + " has " + std::to_string(info.tgt_vocab.size()) + " target symbols, model 1 " +
                  std::to_string(first.tgt_vocab.size()));
    std::vector<int> own;
    for (int v = 0; v < first.tgt_vocab.size(); ++v) {
      const int id = info.tgt_vocab.id(first.tgt_vocab.token(v));
      if (id == Vocabulary::unknown) throw Error(which + " lacks the target symbol '" + first.tgt_vocab.token(v) + "'");
      own.push_back(id);
    }
    maps.push_back(std::move(own));
  }
  return maps;
}

std::vector<Translation> translate_with(const std::vector<Part>& parts, const std::vector<std::string>& sources,
                                        const DecodeOptions& o) {
  check(o);
  const std::vector<std::vector<int>> maps = target_maps(parts);
  const Seq2SeqInfo& info = *parts[0].second;
  const int bos = info.tgt_vocab.id(kBeginToken), eos = info.tgt_vocab.id(kEndToken);
  std::vector<std::vector<SourceIds>> reads(parts.size());  // each member's reading of every source
  for (std::size_t i = 0; i < parts.size(); ++i)
    for (const auto& s : sources) reads[i].push_back(read_source(*parts[i].second, s));
  const std::vector<SourceIds>& read = reads[0];
  std::vector<std::size_t> order(sources.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return read[a].ids.size() < read[b].ids.size(); });
  std::vector<Translation> out(sources.size());
  // Chunks of sources of similar lengths, each decoded on one thread with
  // BLAS on one thread, its products on the rows kernel: each chunk's answers
  // are the same whichever thread, and however many, decode it.
  constexpr std::size_t chunk = 32;
  const SerialBlas serial;
  std::vector<std::shared_ptr<const Seq2Seq<float>::StepPanels>> panels;  // each member's, packed once for every chunk
  for (const Part& p : parts) panels.push_back(p.first->decode_panels());
  jobs_on_threads((order.size() + chunk - 1) / chunk, o.threads, [&](std::size_t job, std::size_t) {
    const std::size_t first = job * chunk, last = std::min(order.size(), first + chunk);
    std::vector<Member> members(parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
      members[i].model = parts[i].first;
      members[i].state.panels = panels[i];
      members[i].own = maps[i];
      for (std::size_t k = first; k < last; ++k) members[i].sources.push_back(reads[i][order[k]].ids);
    }
    const auto found = beam_search(members, o, bos, eos);
    for (std::size_t k = first; k < last; ++k) {
      Translation& t = out[order[k]];
      t.source_tokens = read[order[k]].tokens;
      t.unknown = read[order[k]].unknown;
      for (const Hyp& h : found[k - first]) {
        if (int(t.nbest.size()) == o.nbest) break;
        Hypothesis x;
        for (int id : h.ids) x.tokens.push_back(info.tgt_vocab.token(id));
        x.text = detokenize(info.tgt_tokenizer, x.tokens);
        x.finished = h.finished;
        x.log_prob = h.log_prob;
        x.score = x.log_prob / std::pow(double(h.ids.size() + 1), o.length_penalty);
        x.attention = h.attention;
        t.nbest.push_back(std::move(x));
      }
    }
  });
  return out;
}

// A member's teacher-forced cross-entropy per target symbol over `pairs`;
// `unknown` counts the source tokens outside its vocabulary, `symbols` the
// target symbols the loss is the mean of.
double teacher_forced_loss(const Part& part, const std::vector<LabeledText>& pairs, int threads, long& unknown,
                           long& symbols) {
  const Seq2SeqInfo& info = *part.second;
  std::vector<std::vector<int>> src, tgt;
  for (const LabeledText& p : pairs) {
    SourceIds s = read_source(info, p.text);
    unknown += s.unknown;
    src.push_back(std::move(s.ids));
    std::vector<int> y;
    for (const auto& t : tokenize(info.tgt_tokenizer, normalize(p.label, info.tgt_normalization)))
      y.push_back(info.tgt_vocab.id_or_unknown(t));
    tgt.push_back(std::move(y));
  }
  // Batches of 64 on `threads` threads (BLAS on one each), summed in order.
  constexpr std::size_t batch = 64;
  const std::size_t batches = (pairs.size() + batch - 1) / batch;
  std::vector<double> losses(batches);
  std::vector<long> counts(batches);
  const SerialBlas serial;
  std::vector<Seq2Seq<float>::Workspace> spaces(std::size_t(std::max(1, threads)));  // each thread's, reused
  jobs_on_threads(batches, threads, [&](std::size_t job, std::size_t thread) {
    std::vector<int> which;
    for (std::size_t i = job * batch; i < std::min(pairs.size(), (job + 1) * batch); ++i) which.push_back(int(i));
    const Batch b = make_pair_batch(src, tgt, which, info.tgt_vocab.id(kBeginToken), info.tgt_vocab.id(kEndToken));
    Seq2Seq<float>::Workspace& ws = spaces[thread];
    ws.forward_only = true;
    part.first->forward(b, ws);
    losses[job] = cross_entropy_sum<float>(ws.logits, b.targets);
    for (int l : b.dec_lengths) counts[job] += l;
  });
  const double loss = std::accumulate(losses.begin(), losses.end(), 0.0);
  symbols = std::accumulate(counts.begin(), counts.end(), 0L);
  return symbols ? loss / double(symbols) : loss;
}

// Part `part` of `parts` of the pairs: every parts-th distinct source (in the
// order they first appear), with all its pairs.
std::vector<LabeledText> share_of_sources(const std::vector<LabeledText>& pairs, int part, int parts) {
  if (parts == 1) return pairs;
  std::map<std::string, int> index;
  std::vector<LabeledText> out;
  for (const LabeledText& p : pairs) {
    const int i = index.emplace(p.text, int(index.size())).first->second;
    if (i % parts == part) out.push_back(p);
  }
  return out;
}

// The report of one model, or of several decoding as one: their loss is the
// mean of the members' (minus the mean log probability per symbol, what the
// search ranks by), their outputs those of one search.
Seq2SeqReport evaluate_with(const std::vector<Part>& parts, const std::vector<LabeledText>& pairs,
                            const DecodeOptions& o, const std::string& name) {
  target_maps(parts);  // refuses an ensemble whose members write different symbols, before any work
  const Seq2SeqInfo& info = *parts[0].second;
  Seq2SeqReport r;
  r.pairs = long(pairs.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    long unknown = 0;
    r.loss += teacher_forced_loss(parts[i], pairs, o.threads, unknown, r.target_symbols) / double(parts.size());
    if (i == 0) r.unknown = unknown;
  }
  // Each distinct source decoded once, against all its references.
  std::map<std::string, std::vector<std::vector<std::string>>> refs;
  std::vector<std::string> sources;
  for (const LabeledText& p : pairs) {
    auto& v = refs[p.text];
    if (v.empty()) sources.push_back(p.text);
    v.push_back(tokenize(info.tgt_tokenizer, normalize(p.label, info.tgt_normalization)));
  }
  r.name = name;
  const std::vector<Translation> out = translate_with(parts, sources, o);
  long errors = 0, length = 0, wrong = 0;
  std::vector<std::vector<std::string>> hyps;
  std::vector<std::vector<std::vector<std::string>>> all_refs;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const auto& hyp = out[i].nbest.empty() ? std::vector<std::string>{} : out[i].nbest[0].tokens;
    long best = -1, best_len = 0;
    for (const auto& ref : refs[sources[i]]) {
      const long d = edit_distance(hyp, ref);
      if (best < 0 || d < best) best = d, best_len = long(ref.size());
    }
    errors += best, length += best_len, wrong += best > 0;
    hyps.push_back(hyp);
    all_refs.push_back(refs[sources[i]]);
  }
  r.n = long(sources.size());
  r.token_error_rate = length ? double(errors) / double(length) : 0.0;
  r.sequence_error_rate = r.n ? double(wrong) / double(r.n) : 0.0;
  r.sequence_accuracy = 1 - r.sequence_error_rate;
  if (info.tgt_tokenizer == TokenizerKind::word || info.tgt_tokenizer == TokenizerKind::whitespace) {
    r.has_bleu = true;
    r.bleu = corpus_bleu(hyps, all_refs);
  }
  return r;
}

// A translator's members, each a part of what decodes.
std::vector<Part> parts_of(const Translator& t) {
  std::vector<Part> parts;
  for (int k = 0; k < t.info().members; ++k) parts.emplace_back(&t.model(k), &t.info());
  return parts;
}

// Models (one, or the translators' members in turn) as parts.
std::vector<Part> parts_of(const std::vector<const Translator*>& ensemble) {
  std::vector<Part> parts;
  for (const Translator* t : ensemble) {
    if (t == nullptr) throw Error("an ensemble's model is missing (null)");
    const std::vector<Part> mine = parts_of(*t);
    parts.insert(parts.end(), mine.begin(), mine.end());
  }
  return parts;
}

}  // namespace

std::vector<Translation> Translator::translate(const std::vector<std::string>& sources, const DecodeOptions& o) const {
  return translate_with(parts_of(*this), sources, o);
}

Translation Translator::translate(const std::string& source, const DecodeOptions& o) const {
  return translate(std::vector<std::string>{source}, o)[0];
}

Seq2SeqReport Translator::evaluate(const std::vector<LabeledText>& pairs, const DecodeOptions& o,
                                   const std::string& name) const {
  return evaluate_with(parts_of(*this), pairs, o, name);
}

std::vector<Translation> translate(const std::vector<const Translator*>& ensemble,
                                   const std::vector<std::string>& sources, const DecodeOptions& o) {
  return translate_with(parts_of(ensemble), sources, o);
}

Seq2SeqReport evaluate(const std::vector<const Translator*>& ensemble, const std::vector<LabeledText>& pairs,
                       const DecodeOptions& o, const std::string& name) {
  return evaluate_with(parts_of(ensemble), pairs, o, name);
}

double corpus_bleu(const std::vector<std::vector<std::string>>& hyps,
                   const std::vector<std::vector<std::vector<std::string>>>& refs, int max_n) {
  if (hyps.size() != refs.size()) throw Error("corpus_bleu: as many outputs as reference sets are needed");
  std::vector<double> matched(std::size_t(max_n), 0), total(std::size_t(max_n), 0);
  double hyp_len = 0, ref_len = 0;
  using Gram = std::vector<std::string>;
  auto grams = [](const std::vector<std::string>& s, int n) {
    std::map<Gram, long> g;
    for (std::size_t i = 0; i + std::size_t(n) <= s.size(); ++i) ++g[Gram(s.begin() + long(i), s.begin() + long(i) + n)];
    return g;
  };
  for (std::size_t i = 0; i < hyps.size(); ++i) {
    const auto& h = hyps[i];
    hyp_len += double(h.size());
    // The reference length closest to the output's (the shorter on a tie).
    long closest = -1;
    for (const auto& r : refs[i]) {
      const long d = std::labs(long(r.size()) - long(h.size()));
      if (closest < 0 || d < std::labs(closest - long(h.size())) ||
          (d == std::labs(closest - long(h.size())) && long(r.size()) < closest))
        closest = long(r.size());
    }
    ref_len += double(std::max(0L, closest));
    for (int n = 1; n <= max_n; ++n) {
      const auto hg = grams(h, n);
      std::map<Gram, long> most;  // each n-gram's largest count in any reference
      for (const auto& r : refs[i])
        for (const auto& [g, c] : grams(r, n)) most[g] = std::max(most[g], c);
      for (const auto& [g, c] : hg) {
        const auto it = most.find(g);
        matched[std::size_t(n - 1)] += double(std::min(c, it == most.end() ? 0L : it->second));
        total[std::size_t(n - 1)] += double(c);
      }
    }
  }
  double log_p = 0;
  for (int n = 0; n < max_n; ++n) {
    if (matched[std::size_t(n)] == 0 || total[std::size_t(n)] == 0) return 0;
    log_p += std::log(matched[std::size_t(n)] / total[std::size_t(n)]) / max_n;
  }
  const double bp = hyp_len >= ref_len ? 1.0 : std::exp(1 - ref_len / std::max(hyp_len, 1.0));
  return bp * std::exp(log_p);
}

std::string Seq2SeqReport::json() const {
  nlohmann::ordered_json j;
  j["data"] = name;
  j["n"] = n;
  j["pairs"] = pairs;
  j["loss"] = loss;
  j["sequence_accuracy"] = sequence_accuracy;
  j["sequence_error_rate"] = sequence_error_rate;
  j["token_error_rate"] = token_error_rate;
  if (has_bleu) j["bleu"] = bleu;
  j["unknown_tokens"] = unknown;
  return j.dump();
}

// ---- training ------------------------------------------------------------------------

SafeTensors network_tensors(const Seq2Seq<float>& m, const Seq2SeqInfo& info) {
  return to_safetensors(m.table(), {m.weights().data()}, info);
}

SafeTensors network_tensors(const Seq2SeqEnsemble<float>& m, const Seq2SeqInfo& info) {
  std::vector<const float*> weights;
  for (int k = 0; k < m.size(); ++k) weights.push_back(m.weights().data() + std::size_t(k) * m.member_size());
  return to_safetensors(m.member(0).table(), weights, info);
}

void save_network(const std::string& path, const Seq2SeqEnsemble<float>& m, const Seq2SeqInfo& info) {
  write_safetensors(path, network_tensors(m, info));
}

Buffer<float> resume_weights(SafeTensors checkpoint, const Seq2SeqInfo& now, const std::string& path) {
  Loaded l = from_safetensors(std::move(checkpoint), path);
  const Seq2SeqConfig &a = l.info.config, &b = now.config;
  const auto same_stack = [](const StackConfig& x, const StackConfig& y) {
    return x.cell == y.cell && x.vocab == y.vocab && x.embed == y.embed && x.hidden == y.hidden &&
           x.layers == y.layers && x.bidirectional == y.bidirectional && x.bias_hh == y.bias_hh;
  };
  if (!same_stack(a.encoder, b.encoder) || a.cell != b.cell || a.tgt_vocab != b.tgt_vocab || a.embed != b.embed ||
      a.hidden != b.hidden || a.layers != b.layers || a.bias_hh != b.bias_hh || a.attention != b.attention ||
      a.input_feeding != b.input_feeding || l.info.src_vocab.tokens() != now.src_vocab.tokens() ||
      l.info.tgt_vocab.tokens() != now.tgt_vocab.tokens() || l.info.src_tokenizer != now.src_tokenizer ||
      l.info.tgt_tokenizer != now.tgt_tokenizer || l.info.src_normalization != now.src_normalization ||
      l.info.tgt_normalization != now.tgt_normalization)
    throw Error(path + ": this checkpoint is of a different model or data; resume with the flags and files "
                "of the run that wrote it");
  if (l.info.members != now.members)
    throw Error(path + ": this checkpoint is of " + std::to_string(l.info.members) + " models trained together, " +
                "this run trains " + std::to_string(now.members) + "; resume with --members " +
                std::to_string(l.info.members));
  if (l.members.size() == 1) return std::move(l.members[0].weights());
  Buffer<float> all;  // the members' one after another, as Seq2SeqEnsemble lays them out
  for (const Seq2Seq<float>& m : l.members) all.insert(all.end(), m.weights().begin(), m.weights().end());
  return all;
}

namespace {

// A pair read for training: both sides' tokens, checked.
struct PairTokens {
  std::vector<std::string> src, tgt;
};

std::vector<PairTokens> read_pairs(const std::vector<LabeledText>& rows, const Seq2SeqInfo& info, int max_length,
                                   const std::string& name) {
  std::vector<PairTokens> out;
  out.reserve(rows.size());
  for (const LabeledText& r : rows) {
    const std::string where = name + ":" + std::to_string(r.line);
    PairTokens p;
    try {
      p.src = tokenize(info.src_tokenizer, normalize(r.text, info.src_normalization));
      p.tgt = tokenize(info.tgt_tokenizer, normalize(r.label, info.tgt_normalization));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    if (p.src.empty()) throw Error(where + ": the source (before the tab) is empty");
    if (p.tgt.empty()) throw Error(where + ": the target (after the tab) is empty");
    for (const auto* side : {&p.src, &p.tgt})
      if (int(side->size()) > max_length)
        throw Error(where + ": the " + (side == &p.src ? "source" : "target") + " has " +
                    std::to_string(side->size()) + " symbols, more than --max-length " + std::to_string(max_length));
    for (const auto& t : p.tgt)
      if (t == kBeginToken || t == kEndToken)
        throw Error(where + ": the target holds " + t + ", which marks where targets begin and end");
    out.push_back(std::move(p));
  }
  return out;
}

// Tokens seen at least min_count times, sorted (code point order), after `first`.
Vocabulary side_vocab(const std::vector<PairTokens>& pairs, std::vector<std::string> PairTokens::*side, int min_count,
                      std::vector<std::string> first, bool unknown_last) {
  std::map<std::string, long> counts;
  for (const PairTokens& p : pairs)
    for (const auto& t : p.*side) ++counts[t];
  Vocabulary v;
  for (const auto& t : first) v.add(t);
  for (const auto& [t, n] : counts)
    if (n >= min_count && t != kUnknownToken) v.add(t);
  if (unknown_last) v.add(kUnknownToken);
  return v;
}

// A fraction of the distinct sources, with all their pairs, drawn by the seed.
std::vector<LabeledText> hold_out_sources(std::vector<LabeledText>& rows, double fraction, std::uint32_t seed) {
  std::vector<std::string> sources;
  std::map<std::string, int> seen;
  for (const auto& r : rows)
    if (seen.emplace(r.text, 0).second) sources.push_back(r.text);
  Rng rng(seed ^ 0x76616c69u);  // "vali": a stream of its own
  rng.shuffle(sources);
  const std::size_t n = std::size_t(std::llround(fraction * double(sources.size())));
  if (n == 0 || n >= sources.size())
    throw Error("--valid-fraction " + std::to_string(fraction) + " of " + std::to_string(sources.size()) +
                " distinct sources leaves no validation or no training data");
  for (std::size_t i = 0; i < n; ++i) seen[sources[i]] = 1;
  std::vector<LabeledText> kept, held;
  for (auto& r : rows) (seen[r.text] ? held : kept).push_back(std::move(r));
  rows = std::move(kept);
  return held;
}

}  // namespace

struct TranslatorTraining {
  static TranslatorRun run(Seq2SeqData data, const TrainOptions& o, const TrainCallbacks& cb, Communicator* processes) {
    Seq2SeqInfo info;
    info.src_tokenizer = tokenizer_from_string(o.source_tokenizer());
    info.tgt_tokenizer = tokenizer_from_string(o.target_tokenizer());
    info.src_normalization = normalization_for(o.lowercase);
    info.tgt_normalization = Normalization::nfc;  // outputs keep their case
    const std::vector<PairTokens> train = read_pairs(data.train, info, o.max_length, data.train_name);
    info.src_vocab = side_vocab(train, &PairTokens::src, o.min_count, {}, true);
    info.tgt_vocab = side_vocab(train, &PairTokens::tgt, o.min_count, {kBeginToken, kEndToken, kUnknownToken}, false);
    // (held-out pairs are checked as the training pairs are)
    if (!data.valid.empty()) read_pairs(data.valid, info, o.max_length, data.valid_name);
    if (!data.test.empty()) read_pairs(data.test, info, o.max_length, data.test_name);

    Seq2SeqConfig& c = info.config;
    c.encoder = {cell_from_name(o.cell), info.src_vocab.size(), o.embed, o.hidden, o.layers, o.bidirectional,
                 o.bias_hh, o.dropout};
    c.cell = cell_from_name(o.dec_cell.empty() ? o.cell : o.dec_cell);
    c.tgt_vocab = info.tgt_vocab.size();
    c.embed = o.dec_embed >= 0 ? o.dec_embed : o.embed;
    c.hidden = o.dec_hidden > 0 ? o.dec_hidden : o.hidden * c.encoder.directions();
    c.layers = o.dec_layers > 0 ? o.dec_layers : o.layers;
    c.bias_hh = o.bias_hh;
    c.attention = attention_from_string(o.attention);
    c.input_feeding = o.input_feeding && c.attention != AttentionKind::none;
    c.dropout = o.dropout;

    std::vector<std::vector<int>> src, tgt;
    for (const PairTokens& p : train) {
      std::vector<int> x, y;
      for (const auto& t : p.src) x.push_back(info.src_vocab.id_or_unknown(t));
      for (const auto& t : p.tgt) y.push_back(info.tgt_vocab.id_or_unknown(t));
      src.push_back(std::move(x)), tgt.push_back(std::move(y));
    }
    if (cb.on_start) cb.on_start({nullptr, long(data.train.size()), long(data.valid.size()), long(data.test.size())});
    if (cb.on_note)
      cb.on_note(data.train_name + ": " + std::to_string(train.size()) + " pairs; " +
                 std::to_string(info.src_vocab.size()) + " source and " + std::to_string(info.tgt_vocab.size()) +
                 " target symbols");

    info.members = o.members;
    TrainerOptions to = trainer_options(o, true);
    if (o.members > 1) to.step.norm_groups = Seq2SeqEnsemble<float>(c, o.members).groups();
    return on_threads<TranslatorRun>(o, processes, cb, [&](Communicator* ranks, const TrainCallbacks& callbacks) {
      const Parallel parallel = parallel_for(o, ranks);
      PairBatcher batcher(src, tgt, o.batch, parallel.split, info.tgt_vocab.id(kBeginToken),
                          info.tgt_vocab.id(kEndToken));
      return o.members > 1 ? session<Seq2SeqEnsemble<float>, Seq2SeqEnsembleObjective<float>>(data, info, o, to, batcher,
                                                                                            callbacks, parallel, ranks)
                           : session<Seq2Seq<float>, Seq2SeqObjective<float>>(data, info, o, to, batcher, callbacks,
                                                                              parallel, ranks);
    });
  }

  // A network's members (one model: itself), as the parts that decode.
  static std::vector<Part> parts(const Seq2Seq<float>& m, const Seq2SeqInfo& info) { return {{&m, &info}}; }
  static std::vector<Part> parts(Seq2SeqEnsemble<float>& m, const Seq2SeqInfo& info) {
    m.sync();  // (the weights evaluated: the buffer's, the average's while it is scored)
    std::vector<Part> out;
    for (int k = 0; k < m.size(); ++k) out.emplace_back(&m.member(k), &info);
    return out;
  }
  static std::vector<Seq2Seq<float>> members(Seq2Seq<float>& m) {
    std::vector<Seq2Seq<float>> out;
    out.push_back(std::move(m));
    return out;
  }
  static std::vector<Seq2Seq<float>> members(Seq2SeqEnsemble<float>& m) { return m.release(); }

  // This rank's run of one network (a model, or an ensemble's members together).
  template <class Net, class Objective>
  static TranslatorRun session(Seq2SeqData& data, const Seq2SeqInfo& info, const TrainOptions& o,
                               const TrainerOptions& to, PairBatcher& batcher, const TrainCallbacks& callbacks,
                               const Parallel& parallel, Communicator* ranks) {
    // Held out: the loss per target symbol, and the share of sources whose
    // greedy output is one of their references (the accuracy the best epoch
    // is chosen by); an ensemble's as one.
    // With ranks, each scores its share of the sources (every N-th distinct
    // source, with all its references) and the shares' tallies add up.
    const auto tally = [&info](Net& m, const std::vector<LabeledText>& rows, const std::string& name, int part,
                               int parts_of_data) {
      DecodeOptions o;  // ranks: each its share on its own thread; one process: on BLAS's threads
      o.threads = parts_of_data > 1 ? 1 : blas_threads();
      const Seq2SeqReport r = evaluate_with(parts(m, info), share_of_sources(rows, part, parts_of_data), o, name);
      Tally t;
      t.n = r.n;
      t.loss = r.loss * double(r.target_symbols), t.weight = double(r.target_symbols);
      t.correct = double(std::lround(r.sequence_accuracy * double(r.n)));
      t.has_accuracy = true;
      return t;
    };
    SessionResult<Net> s = run_session<Net>(
        info, o, to, batcher, [&](Net& m) { return std::make_unique<Objective>(m, o.label_smoothing); },
        [&](Net& m) {
          Evaluators e;
          if (!data.valid.empty())
            e.valid_part = [&](int part, int n) { return tally(m, data.valid, data.valid_name, part, n); };
          if (!data.test.empty())
            e.test_part = [&](int part, int n) { return tally(m, data.test, data.test_name, part, n); };
          return e;
        },
        callbacks, parallel);
    // Threads share `data` (their evaluations read it): rank 0 takes it once every rank is done.
    if (o.threads > 1) ranks->expect_same(0, "the end of the run");
    TranslatorRun run{Translator(std::make_unique<Translator::Impl>(info, members(*s.model))), s.result,
                      std::move(s.history), s.seconds, s.checkpoint, {}};
    if (parallel.root()) run.data = std::move(data);  // (the data goes with rank 0's run)
    return run;
  }
};

TranslatorRun Translator::train(const Seq2SeqData& given, const TrainOptions& o, const TrainCallbacks& cb,
                                Communicator* processes) {
  check(o);
  if (o.task != "seq2seq") throw Error("a sequence-to-sequence model is trained with --task seq2seq, not " + o.task);
  if (given.train.empty()) throw Error(given.train_name + ": no training pairs");
  if (!given.valid.empty() && o.valid_fraction > 0) throw Error("give --valid or --valid-fraction, not both");
  if (o.patience > 0 && given.valid.empty() && !(o.valid_fraction > 0))
    throw Error("--patience needs validation data: --valid FILE or --valid-fraction X");
  Seq2SeqData data = given;
  if (o.valid_fraction > 0) {
    data.valid = hold_out_sources(data.train, o.valid_fraction, o.seed);
    data.valid_name = data.train_name + " (held out: " + std::to_string(data.valid.size()) + " pairs)";
  }
  return TranslatorTraining::run(std::move(data), o, cb, processes);
}

}  // namespace recur
