// The language-model application (include/recur/language_model.hpp): text
// preparation, training through the one trainer, scoring, generation.
#include "recur/language_model.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "recur/data.hpp"
#include "recur/generator.hpp"
#include "recur/io.hpp"
#include "recur/layers.hpp"
#include "recur/token_stream.hpp"
#include "session.hpp"

namespace recur {

struct LanguageModel::Impl {
  ModelInfo info;
  Model<float> model;
  Reader<float> reader;  // immutable: calls from several threads share it
  Impl(ModelInfo i, Model<float> m) : info(std::move(i)), model(std::move(m)), reader(model) {}
};

LanguageModel::LanguageModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LanguageModel::LanguageModel(LanguageModel&&) noexcept = default;
LanguageModel& LanguageModel::operator=(LanguageModel&&) noexcept = default;
LanguageModel::~LanguageModel() = default;

LanguageModel LanguageModel::load(const std::string& path) {
  LoadedModel m = load_model(path);
  if (m.info.config.task != Task::lm) throw Error(path + ": a " + to_string(m.info.config.task) + " model, not a language model");
  return LanguageModel(std::make_unique<Impl>(std::move(m.info), std::move(m.model)));
}

LanguageModel LanguageModel::from_safetensors(SafeTensors st, const std::string& name) {
  LoadedModel m = model_from_safetensors(std::move(st), name);
  if (m.info.config.task != Task::lm) throw Error(name + ": a " + to_string(m.info.config.task) + " model, not a language model");
  return LanguageModel(std::make_unique<Impl>(std::move(m.info), std::move(m.model)));
}

void LanguageModel::save(const std::string& path) const { save_model(path, impl_->model, impl_->info); }
SafeTensors LanguageModel::to_safetensors() const { return model_to_safetensors(impl_->model, impl_->info); }
const ModelInfo& LanguageModel::info() const { return impl_->info; }
const Model<float>& LanguageModel::model() const { return impl_->model; }

std::vector<int> LanguageModel::encode(const std::string& text, long* unknown) const {
  const ModelInfo& i = impl_->info;
  return encode_text(normalize(text, i.normalization), i.vocab, i.tokenizer, unknown);
}

std::string LanguageModel::piece(int id) const {
  const ModelInfo& i = impl_->info;
  return i.tokenizer == TokenizerKind::chr ? i.vocab.token(id) : " " + i.vocab.token(id);
}

LmReport LanguageModel::evaluate(const std::string& text, const std::string& name) const {
  LmReport r;
  const std::vector<int> ids = encode(text, &r.unknown_tokens);
  if (ids.size() < 2) throw Error(name + ": fewer than 2 tokens");
  // One stream, read in chunks (the state carried across), each token predicting the next.
  constexpr std::size_t chunk = 256;
  Reader<float>::State state;
  Matrix<float> logits;
  for (std::size_t start = 0; start + 1 < ids.size(); start += chunk) {
    const std::size_t len = std::min(chunk, ids.size() - 1 - start);
    const std::vector<int> in(ids.begin() + std::ptrdiff_t(start), ids.begin() + std::ptrdiff_t(start + len));
    const std::vector<int> next(ids.begin() + std::ptrdiff_t(start + 1), ids.begin() + std::ptrdiff_t(start + len + 1));
    impl_->reader.read(in, state, logits);
    r.metrics.loss += cross_entropy_sum<float>(logits, next);
    r.metrics.n += long(len);
  }
  r.metrics.loss /= double(r.metrics.n);
  return r;
}

HiddenStates LanguageModel::hidden_states(const std::string& text) const {
  Reader<float>::State state;
  Matrix<float> logits;
  ReadTrace<float> trace;
  impl_->reader.read(encode(text), state, logits, &trace);
  return hidden_states_of(trace, impl_->info.config);
}

LmExplanation LanguageModel::explain(const std::string& text, int top) const {
  const ModelInfo& info = impl_->info;
  LmExplanation x;
  x.tokens = tokenize(info.tokenizer, normalize(text, info.normalization));
  std::vector<int> ids;
  for (const std::string& t : x.tokens) {
    x.known.push_back(info.vocab.id(t) != Vocabulary::unknown);
    ids.push_back(info.vocab.id_or_unknown(t));
  }
  Reader<float>::State state;
  Matrix<float> logits, one(1, logits.cols()), p;
  ReadTrace<float> trace;
  impl_->reader.read(ids, state, logits, &trace);
  x.states = hidden_states_of(trace, info.config);
  std::vector<int> order(static_cast<std::size_t>(logits.cols()));
  for (Eigen::Index t = 0; t < logits.rows(); ++t) {
    one = logits.row(t);
    softmax_rows<float>(one, p);
    std::iota(order.begin(), order.end(), 0);
    const std::size_t k = std::min(order.size(), std::size_t(std::max(0, top)));
    std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(k), order.end(),
                      [&](int a, int b) { return p(0, a) > p(0, b) || (p(0, a) == p(0, b) && a < b); });
    std::vector<NextSymbol> next;
    for (std::size_t i = 0; i < k; ++i) next.push_back({info.vocab.token(order[i]), double(p(0, order[i]))});
    x.next.push_back(std::move(next));
  }
  return x;
}

std::string LmReport::json() const {
  nlohmann::ordered_json j;
  j["n"] = metrics.n;
  j["loss"] = metrics.loss;
  j["bits_per_token"] = metrics.bits();
  j["unknown_tokens"] = unknown_tokens;
  return j.dump();
}

LanguageModel::Generation::Generation(const LanguageModel& lm, std::unique_ptr<Generator> g)
    : lm_(&lm), g_(std::move(g)) {}
LanguageModel::Generation::Generation(Generation&&) noexcept = default;
LanguageModel::Generation::~Generation() = default;
int LanguageModel::Generation::next_id() { return g_->next(); }
std::string LanguageModel::Generation::next() { return lm_->piece(next_id()); }

LanguageModel::Generation LanguageModel::start(const std::string& prime, const SampleOptions& o,
                                               std::uint32_t seed) const {
  check(o);
  std::vector<int> ids = encode(prime);
  if (ids.empty()) {
    const int nl = impl_->info.vocab.id("\n");
    ids.push_back(nl >= 0 ? nl : 0);
  }
  return Generation(*this, std::make_unique<Generator>(impl_->reader, ids, o, Rng(seed)));
}

std::string LanguageModel::generate(const std::string& prime, long length, const SampleOptions& o, std::uint32_t seed,
                                    const std::function<void(const std::string&)>& emit) const {
  if (length < 0) throw Error("--length must be >= 0");
  Generation g = start(prime, o, seed);
  std::string out;
  for (long i = 0; i < length; ++i) {
    const std::string p = g.next();
    out += p;
    if (emit) emit(p);
  }
  return out;
}

std::string model_task(const std::string& path) {
  const auto meta = read_safetensors_metadata(path);
  if (meta.count("checkpoint"))
    throw Error(path + ": a training checkpoint, not a model (continue it with recur train --resume; "
                "--save writes the model file)");
  const auto it = meta.find("task");
  if (it == meta.end()) throw Error(path + ": metadata has no 'task' (not a recur model?)");
  return it->second;
}

struct LanguageModelTraining {
  template <class T>
  static LanguageModelRun run(const ModelInfo& info, const TokenStream& train, const TokenStream& valid,
                              const TrainOptions& o, const TrainCallbacks& cb, Communicator* processes) {
    const TrainerOptions to = trainer_options(o, false);
    return on_threads<LanguageModelRun>(o, processes, cb, [&](Communicator* ranks, const TrainCallbacks& callbacks) {
      const Parallel parallel = parallel_for(o, ranks);
      StreamBatcher batcher(train, o.batch, o.seq_len, parallel.split);
      SessionResult<Model<T>> s = run_session<Model<T>>(
          info, o, to, batcher, [&](Model<T>& m) { return std::make_unique<ManyToMany<T>>(m, o.accumulate, o.label_smoothing); },
          [&](const Model<T>& m) {
            Evaluators e;
            if (!valid.empty()) e.valid = [&m, &valid] { return evaluate_many_to_many(m, valid); };
            return e;
          },
          callbacks, parallel);
      return LanguageModelRun{LanguageModel(std::make_unique<LanguageModel::Impl>(info, to_float(*s.model))),
                              s.result, std::move(s.history), s.seconds, s.checkpoint};
    });
  }
};

namespace {

// A language model's training and validation ids, and the vocabulary (set in
// info) they are read with.
struct LmStreams {
  std::vector<int> train_ids, valid_ids;  // (text in memory)
  std::unique_ptr<TokenStream> train, valid;
  bool has_valid_text = false;
  long unknown = 0;  // validation tokens outside the vocabulary
};

LmStreams from_memory(const LanguageModelData& data, const TrainOptions& o, ModelInfo& info) {
  std::string text = data.text;
  std::string valid_text = data.valid_file.empty() ? data.valid_text : read_text_file(data.valid_file);
  if (o.valid_fraction > 0) {  // the end of the text
    const std::size_t cut = code_point_boundary(text, std::size_t(double(text.size()) * (1 - o.valid_fraction)));
    valid_text = text.substr(cut);
    text.resize(cut);
  }
  text = normalize(text, info.normalization);
  valid_text = normalize(valid_text, info.normalization);
  info.vocab = build_lm_vocab(text, info.tokenizer);
  LmStreams s;
  s.train_ids = encode_text(text, info.vocab, info.tokenizer);
  s.valid_ids = encode_text(valid_text, info.vocab, info.tokenizer, &s.unknown);
  s.train = std::make_unique<TokenVector>(s.train_ids);
  s.valid = std::make_unique<TokenVector>(s.valid_ids);
  s.has_valid_text = !valid_text.empty();
  return s;
}

// The same from a text file, two passes over it piece by piece: the
// vocabulary, then the ids, to disk.
LmStreams from_file(const LanguageModelData& data, const TrainOptions& o, ModelInfo& info) {
  const TextFilePieces text(data.text_file);
  std::size_t cut = text.size();
  if (o.valid_fraction > 0) cut = text.code_point_boundary(std::size_t(double(text.size()) * (1 - o.valid_fraction)));
  LmVocabularyBuilder vocab(info.tokenizer);
  text.visit(0, cut, info.tokenizer, info.normalization, [&](std::string_view p) { vocab.add(p); });
  info.vocab = vocab.vocabulary();

  LmStreams s;
  auto ids = [&](const TextFilePieces& f, std::size_t from, std::size_t to) {
    auto out = std::make_unique<TokenFile>(info.vocab.size());
    LmEncoder e(info.vocab, info.tokenizer);
    f.visit(from, to, info.tokenizer, info.normalization,
            [&](std::string_view p) { e.encode(p, [&](int id) { out->append(id); }); });
    out->finish();
    s.unknown += e.unknown;
    return out;
  };
  s.train = ids(text, 0, cut);
  if (!data.valid_file.empty()) {
    const TextFilePieces valid(data.valid_file);
    s.valid = ids(valid, 0, valid.size());
    s.has_valid_text = valid.size() > 0;
  } else if (!data.valid_text.empty()) {
    s.valid_ids = encode_text(normalize(data.valid_text, info.normalization), info.vocab, info.tokenizer, &s.unknown);
    s.valid = std::make_unique<TokenVector>(s.valid_ids);
    s.has_valid_text = true;
  } else {
    s.valid = ids(text, cut, text.size());
    s.has_valid_text = cut < text.size();
  }
  return s;
}

}  // namespace

LanguageModelRun LanguageModel::train(const LanguageModelData& data, const TrainOptions& o,
                                      const TrainCallbacks& cb, Communicator* processes) {
  check(o);
  if (o.task != "lm") throw Error("a language model is trained with --task lm, not " + o.task);
  if (!data.text.empty() && !data.text_file.empty()) throw Error("give the text or a text file, not both");
  if (!data.valid_text.empty() && !data.valid_file.empty())
    throw Error("give the validation text or a validation file, not both");
  if ((!data.valid_text.empty() || !data.valid_file.empty()) && o.valid_fraction > 0)
    throw Error("give --valid-text or --valid-fraction, not both");
  ModelInfo info;
  info.tokenizer = tokenizer_from_string(o.tokenizer_or_default());
  info.normalization = normalization_for(o.lowercase);
  const LmStreams ids = data.text_file.empty() ? from_memory(data, o, info) : from_file(data, o, info);
  ModelConfig& c = info.config;
  c.task = Task::lm;
  c.cell = cell_from_name(o.cell);
  c.vocab = c.classes = info.vocab.size();
  c.hidden = o.hidden;
  c.layers = o.layers;
  c.embed = o.embed;
  c.dropout = o.dropout;
  c.bias_hh = o.bias_hh;

  if (ids.has_valid_text && ids.valid->size() < 2)
    throw Error((o.valid_fraction > 0 ? "the validation text (--valid-fraction)" : data.valid_name) +
                " has fewer than 2 tokens");
  if (ids.unknown && cb.on_note)
    cb.on_note(std::to_string(ids.unknown) + " validation tokens not in the training vocabulary (mapped to " +
               kUnknownToken + ")");
  if (cb.on_start) cb.on_start({&info, long(ids.train->size()), long(ids.valid->size()), 0});
  if (o.dtype == "f64") return LanguageModelTraining::run<double>(info, *ids.train, *ids.valid, o, cb, processes);
  return LanguageModelTraining::run<float>(info, *ids.train, *ids.valid, o, cb, processes);
}

}  // namespace recur
