// The sequence-to-sequence application (include/recur/translator.hpp): model
// files, batched greedy and beam-search decoding, evaluation.
#include "recur/translator.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <limits>
#include <numeric>

#include "recur/io.hpp"
#include "recur/layers.hpp"
#include "recur/seq2seq.hpp"

namespace recur {

struct Translator::Impl {
  Seq2SeqInfo info;
  Seq2Seq<float> model;
  Impl(Seq2SeqInfo i, Seq2Seq<float> m) : info(std::move(i)), model(std::move(m)) {}
};

Translator::Translator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Translator::Translator(Translator&&) noexcept = default;
Translator& Translator::operator=(Translator&&) noexcept = default;
Translator::~Translator() = default;
const Seq2SeqInfo& Translator::info() const { return impl_->info; }
const Seq2Seq<float>& Translator::model() const { return impl_->model; }

void check(const DecodeOptions& o) {
  if (o.beam < 1) throw Error("--beam must be at least 1");
  if (o.nbest < 1 || o.nbest > o.beam) throw Error("--nbest must be between 1 and --beam (" + std::to_string(o.beam) + ")");
  if (!(o.length_penalty >= 0)) throw Error("--length-penalty must be >= 0");
  if (o.max_length < 0) throw Error("--max-len must be >= 0 (0: 3 x the source's length + 10)");
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

namespace {

using nlohmann::json;

SafeTensors to_safetensors(const Seq2Seq<float>& m, const Seq2SeqInfo& info) {
  SafeTensors st;
  for (const ParamSpec& p : m.table().specs()) {
    TensorF32 t;
    t.shape = p.is_vector ? std::vector<std::int64_t>{p.rows} : std::vector<std::int64_t>{p.rows, p.cols};
    t.data.assign(m.weights().begin() + std::ptrdiff_t(p.offset), m.weights().begin() + std::ptrdiff_t(p.offset + p.size()));
    st.tensors.emplace(p.name, std::move(t));
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
  return st;
}

struct Loaded {
  Seq2SeqInfo info;
  std::unique_ptr<Seq2Seq<float>> model;
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
  c.encoder.bias_hh = st.tensors.count("encoder.rnn.bias_hh_l0") > 0;
  c.bias_hh = st.tensors.count("decoder.rnn.bias_hh_l0") > 0;
  std::unique_ptr<Seq2Seq<float>> built;
  try {
    built = std::make_unique<Seq2Seq<float>>(c);
  } catch (const Error& e) {
    throw fail(e.what());
  }
  Seq2Seq<float>& model = *built;
  for (const ParamSpec& p : model.table().specs()) {
    const auto it = st.tensors.find(p.name);
    if (it == st.tensors.end()) throw fail("missing tensor " + p.name);
    const std::vector<std::int64_t> want =
        p.is_vector ? std::vector<std::int64_t>{p.rows} : std::vector<std::int64_t>{p.rows, p.cols};
    if (it->second.shape != want) throw fail("tensor " + p.name + " does not have the shape its configuration says");
    std::copy(it->second.data.begin(), it->second.data.end(), model.weights().begin() + std::ptrdiff_t(p.offset));
    st.tensors.erase(it);
  }
  if (!st.tensors.empty()) throw fail("unexpected tensor " + st.tensors.begin()->first);
  for (float x : model.weights())
    if (!std::isfinite(x)) throw fail("a parameter is not finite (NaN or inf)");
  return {std::move(info), std::move(built)};
}

}  // namespace

Translator Translator::load(const std::string& path) {
  SafeTensors st = read_safetensors(path);
  if (st.metadata.count("checkpoint"))
    throw Error(path + ": a training checkpoint, not a model (continue it with recur train --resume; "
                "--save writes the model file)");
  Loaded l = from_safetensors(std::move(st), path);
  return Translator(std::make_unique<Impl>(std::move(l.info), std::move(*l.model)));
}

void Translator::save(const std::string& path) const { save_seq2seq(path, impl_->model, impl_->info); }

void save_seq2seq(const std::string& path, const Seq2Seq<float>& model, const Seq2SeqInfo& info) {
  write_safetensors(path, to_safetensors(model, info));
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

// Beam search over a chunk of sources, all at once: each live hypothesis is a
// row of the decoder; at every step each source keeps its `beam` best
// extensions (never <bos>), a hypothesis that writes <eos> is finished, one
// that reaches the maximum length can only write <eos> next, and a source is
// done when it has `beam` finished ones. Beam 1 is greedy decoding. Per
// source, best first by score.
std::vector<std::vector<Hyp>> beam_search(const Seq2Seq<float>& model, const std::vector<std::vector<int>>& sources,
                                          const DecodeOptions& o, int bos, int eos) {
  const int K = o.beam, B = int(sources.size());
  Seq2Seq<float>::DecodeState st;
  model.encode(sources, st);
  std::vector<Hyp> live(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) live[std::size_t(b)].src = b;
  std::vector<int> prev(static_cast<std::size_t>(B), bos);
  std::vector<std::vector<Hyp>> done(static_cast<std::size_t>(B));
  auto max_len = [&](int b) { return o.max_length > 0 ? o.max_length : 3 * int(sources[std::size_t(b)].size()) + 10; };
  auto score = [&](const Hyp& h) { return h.log_prob / std::pow(double(h.ids.size() + 1), o.length_penalty); };
  auto finished_count = [&](int b) {
    return int(std::count_if(done[std::size_t(b)].begin(), done[std::size_t(b)].end(), [](const Hyp& h) { return h.finished; }));
  };
  Matrix<float> logits, attention;
  std::vector<double> lp;
  struct Cand {
    int row, id;
    double log_prob;
  };
  while (!live.empty()) {
    model.step(prev, st, logits, o.attention ? &attention : nullptr);
    std::vector<std::vector<Cand>> cands(static_cast<std::size_t>(B));
    const int V = int(logits.cols()), k = std::min(K, V);
    std::vector<int> order(static_cast<std::size_t>(V));
    for (int r = 0; r < int(live.size()); ++r) {  // each row's k best next symbols, by log-softmax
      lp.resize(std::size_t(V));
      const double m = logits.row(r).maxCoeff();
      double z = 0;
      for (int v = 0; v < V; ++v) z += std::exp(double(logits(r, v)) - m);
      for (int v = 0; v < V; ++v) lp[std::size_t(v)] = double(logits(r, v)) - m - std::log(z);
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
        if (kept == K || finished_count(b) >= K) break;
        Hyp h = live[std::size_t(x.row)];
        h.log_prob = x.log_prob;
        if (o.attention) {
          const int S = int(sources[std::size_t(b)].size());
          h.attention.emplace_back(attention.row(x.row).data(), attention.row(x.row).data() + S);
        }
        if (x.id == eos) {
          h.finished = true;
          done[std::size_t(b)].push_back(std::move(h));
          continue;
        }
        h.ids.push_back(x.id);
        ++kept;
        next.push_back(std::move(h));
        rows.push_back(x.row);
      }
    }
    // A source with `beam` finished hypotheses is done: its rows go.
    live.clear();
    std::vector<int> keep;
    prev.clear();
    for (std::size_t i = 0; i < next.size(); ++i)
      if (finished_count(next[i].src) < K) {
        prev.push_back(next[i].ids.back());
        keep.push_back(rows[i]);
        live.push_back(std::move(next[i]));
      }
    if (!live.empty()) model.select(st, keep);
  }
  for (auto& d : done)
    std::stable_sort(d.begin(), d.end(), [&](const Hyp& a, const Hyp& b) { return score(a) > score(b); });
  return done;
}

}  // namespace

std::vector<Translation> Translator::translate(const std::vector<std::string>& sources, const DecodeOptions& o) const {
  check(o);
  const Seq2SeqInfo& info = impl_->info;
  const int bos = info.tgt_vocab.id(kBeginToken), eos = info.tgt_vocab.id(kEndToken);
  std::vector<SourceIds> read;
  for (const auto& s : sources) read.push_back(read_source(info, s));
  std::vector<std::size_t> order(sources.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return read[a].ids.size() < read[b].ids.size(); });
  std::vector<Translation> out(sources.size());
  constexpr std::size_t chunk = 32;
  for (std::size_t first = 0; first < order.size(); first += chunk) {
    const std::size_t last = std::min(order.size(), first + chunk);
    std::vector<std::vector<int>> ids;
    for (std::size_t k = first; k < last; ++k) ids.push_back(read[order[k]].ids);
    const auto found = beam_search(impl_->model, ids, o, bos, eos);
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
  }
  return out;
}

Translation Translator::translate(const std::string& source, const DecodeOptions& o) const {
  return translate(std::vector<std::string>{source}, o)[0];
}

Seq2SeqReport Translator::evaluate(const std::vector<LabeledText>& pairs, const DecodeOptions& o,
                                   const std::string& name) const {
  const Seq2SeqInfo& info = impl_->info;
  Seq2SeqReport r;
  r.pairs = long(pairs.size());
  // Every pair's teacher-forced loss, in batches.
  std::vector<std::vector<int>> src, tgt;
  for (const LabeledText& p : pairs) {
    SourceIds s = read_source(info, p.text);
    r.unknown += s.unknown;
    src.push_back(std::move(s.ids));
    std::vector<int> y;
    for (const auto& t : tokenize(info.tgt_tokenizer, normalize(p.label, info.tgt_normalization)))
      y.push_back(info.tgt_vocab.id_or_unknown(t));
    tgt.push_back(std::move(y));
  }
  long tokens = 0;
  Seq2Seq<float>::Workspace ws;
  for (std::size_t first = 0; first < pairs.size(); first += 64) {
    std::vector<int> which;
    for (std::size_t i = first; i < std::min(pairs.size(), first + 64); ++i) which.push_back(int(i));
    const Batch b = make_pair_batch(src, tgt, which, info.tgt_vocab.id(kBeginToken), info.tgt_vocab.id(kEndToken));
    impl_->model.forward(b, ws);
    r.loss += cross_entropy_sum<float>(ws.logits, b.targets);
    for (int l : b.dec_lengths) tokens += l;
  }
  if (tokens) r.loss /= double(tokens);
  // Each distinct source decoded once, against all its references.
  std::map<std::string, std::vector<std::vector<std::string>>> refs;
  std::vector<std::string> sources;
  for (const LabeledText& p : pairs) {
    auto& v = refs[p.text];
    if (v.empty()) sources.push_back(p.text);
    v.push_back(tokenize(info.tgt_tokenizer, normalize(p.label, info.tgt_normalization)));
  }
  r.name = name;
  const std::vector<Translation> out = translate(sources, o);
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

}  // namespace recur
