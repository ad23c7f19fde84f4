// The classifier application (include/recur/classifier.hpp): data preparation,
// training through the one trainer, prediction, evaluation, cross-validation.
#include "recur/classifier.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "recur/inference.hpp"
#include "recur/io.hpp"
#include "recur/layers.hpp"
#include "recur/vectors.hpp"
#include "session.hpp"
#include "work.hpp"

namespace recur {

struct Classifier::Impl {
  ModelInfo info;
  Model<float> model;
  TokenBags bags;        // subwords: the vocabulary's bags (each call extends them with its own words)
  Reader<float> reader;  // immutable: calls from several threads share it
  Impl(ModelInfo i, Model<float> m)
      : info(std::move(i)),
        model(std::move(m)),
        bags(subwords() ? TokenBags(info.vocab, info.config.subwords) : TokenBags()),
        reader(model, subwords() ? &bags : nullptr) {}
  bool subwords() const { return info.config.subwords.enabled(); }
  // The bags one call reads its texts through: the vocabulary's, and the words outside it.
  std::unique_ptr<TokenBags> call_bags() const { return subwords() ? std::make_unique<TokenBags>(bags, true) : nullptr; }
  Encoded encode(std::string_view text, TokenBags* call) const { return call ? info.encode(text, *call) : info.encode(text); }
};

Classifier::Classifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;
Classifier::~Classifier() = default;

Classifier Classifier::load(const std::string& path) {
  LoadedModel m = load_model(path);
  if (m.info.config.task != Task::classify) throw Error(path + ": a " + to_string(m.info.config.task) + " model, not a classifier");
  return Classifier(std::make_unique<Impl>(std::move(m.info), std::move(m.model)));
}

Classifier Classifier::from_safetensors(SafeTensors st, const std::string& name) {
  LoadedModel m = model_from_safetensors(std::move(st), name);
  if (m.info.config.task != Task::classify) throw Error(name + ": a " + to_string(m.info.config.task) + " model, not a classifier");
  return Classifier(std::make_unique<Impl>(std::move(m.info), std::move(m.model)));
}

void Classifier::save(const std::string& path) const { save_model(path, impl_->model, impl_->info); }
SafeTensors Classifier::to_safetensors() const { return model_to_safetensors(impl_->model, impl_->info); }
const ModelInfo& Classifier::info() const { return impl_->info; }
const Model<float>& Classifier::model() const { return impl_->model; }

std::vector<int> Prediction::top(int k) const {
  std::vector<int> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    return probabilities[std::size_t(x)] > probabilities[std::size_t(y)];
  });
  order.resize(std::min(order.size(), std::size_t(std::max(k, 0))));
  return order;
}

std::string Prediction::json(const std::vector<std::string>& labels) const {
  nlohmann::ordered_json j;
  j["label"] = labels.at(std::size_t(label));
  nlohmann::ordered_json p = nlohmann::ordered_json::object();
  for (std::size_t c = 0; c < labels.size(); ++c) p[labels[c]] = probabilities.at(c);
  j["probabilities"] = p;
  return j.dump();
}

namespace {

Prediction prediction_of(const Matrix<float>& probs, Eigen::Index row, int unknown) {
  Prediction p;
  p.unknown = unknown;
  p.probabilities.resize(std::size_t(probs.cols()));
  for (Eigen::Index c = 0; c < probs.cols(); ++c) p.probabilities[std::size_t(c)] = double(probs(row, c));
  Eigen::Index best;
  probs.row(row).maxCoeff(&best);
  p.label = int(best);
  return p;
}

// The order that puts texts of similar lengths together, so a batch reads
// little padding.
std::vector<std::size_t> by_length(const std::vector<std::vector<int>>& seqs) {
  std::vector<std::size_t> order(seqs.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return seqs[a].size() < seqs[b].size(); });
  return order;
}

constexpr std::size_t kBatch = 64;  // sequences read together

}  // namespace

Prediction Classifier::predict(const std::string& text) const {
  const auto bags = impl_->call_bags();
  const Encoded e = impl_->encode(text, bags.get());
  Matrix<float> probs;
  impl_->reader.classify({e.ids}, probs, nullptr, nullptr, bags.get());
  return prediction_of(probs, 0, e.n_unknown);
}

std::vector<Prediction> Classifier::predict(const std::vector<std::string>& texts, int threads) const {
  std::vector<Prediction> out(texts.size());
  // Each thread reads its own part of the texts from end to end: their words
  // (and the bags of the words outside the vocabulary, which are the thread's
  // own), then its length-bucketed batches.
  in_parts(texts.size(), kBatch, threads, [&](std::size_t lo, std::size_t hi) {
    std::vector<std::vector<int>> seqs(hi - lo);
    std::vector<int> unknown(hi - lo);
    const auto bags = impl_->call_bags();
    for (std::size_t i = lo; i < hi; ++i) {
      Encoded e = impl_->encode(texts[i], bags.get());
      seqs[i - lo] = std::move(e.ids);
      unknown[i - lo] = e.n_unknown;
    }
    const std::vector<std::size_t> order = by_length(seqs);
    std::vector<std::vector<int>> batch;
    Matrix<float> probs;
    for (std::size_t first = 0; first < order.size(); first += kBatch) {
      const std::size_t last = std::min(order.size(), first + kBatch);
      batch.clear();
      for (std::size_t k = first; k < last; ++k) batch.push_back(std::move(seqs[order[k]]));
      impl_->reader.classify(batch, probs, nullptr, nullptr, bags.get());
      for (std::size_t k = first; k < last; ++k)
        out[lo + order[k]] = prediction_of(probs, Eigen::Index(k - first), unknown[order[k]]);
    }
  });
  return out;
}

namespace {

// Per class: precision TP/(TP+FP), recall TP/(TP+FN), F1 = 2TP/(2TP+FP+FN);
// macro-F1 is the unweighted mean of F1 over the classes, leaving out a class
// absent from the data and never predicted.
EvalReport make_report(const std::vector<std::string>& labels, const Metrics& metrics,
                       const std::vector<std::vector<double>>& probs, const std::vector<int>& targets) {
  const int classes = int(labels.size());
  EvalReport r;
  r.labels = labels;
  r.metrics = metrics;
  r.confusion.assign(std::size_t(classes), std::vector<long>(std::size_t(classes), 0));
  for (std::size_t i = 0; i < probs.size(); ++i) {
    int best = 0;
    for (int c = 1; c < classes; ++c)
      if (probs[i][std::size_t(c)] > probs[i][std::size_t(best)]) best = c;
    ++r.confusion[std::size_t(targets[i])][std::size_t(best)];
  }
  double sum = 0;
  int counted = 0;
  r.per_class.resize(std::size_t(classes));
  for (int c = 0; c < classes; ++c) {
    long tp = r.confusion[std::size_t(c)][std::size_t(c)], fp = 0, fn = 0;
    for (int o = 0; o < classes; ++o)
      if (o != c) {
        fp += r.confusion[std::size_t(o)][std::size_t(c)];
        fn += r.confusion[std::size_t(c)][std::size_t(o)];
      }
    ClassScores& s = r.per_class[std::size_t(c)];
    s.support = tp + fn;
    s.precision = tp + fp ? double(tp) / double(tp + fp) : 0.0;
    s.recall = tp + fn ? double(tp) / double(tp + fn) : 0.0;
    s.f1 = tp + fp + fn ? 2.0 * double(tp) / double(2 * tp + fp + fn) : 0.0;
    if (tp + fp + fn == 0) continue;
    sum += s.f1;
    ++counted;
  }
  r.macro_f1 = counted ? sum / counted : 0.0;
  return r;
}

// Texts as a model reads them.
std::vector<LabeledText> normalized(std::vector<LabeledText> rows, Normalization n) {
  for (auto& r : rows) r.text = normalize(r.text, n);
  return rows;
}

}  // namespace

EvalReport Classifier::evaluate(const std::vector<LabeledText>& data, const std::string& name) const {
  const ModelInfo& info = impl_->info;
  const auto bags = impl_->call_bags();
  const EncodedSet set =
      encode_set(normalized(data, info.normalization), info.vocab, info.tokenizer, info.labels, name, bags.get());
  const std::vector<std::size_t> order = by_length(set.ids);
  std::vector<std::vector<double>> probs(set.ids.size());
  Metrics m;
  m.has_accuracy = true;
  m.n = long(set.ids.size());
  for (std::size_t first = 0; first < order.size(); first += kBatch) {
    const std::size_t last = std::min(order.size(), first + kBatch);
    std::vector<std::vector<int>> batch;
    std::vector<int> targets;
    for (std::size_t k = first; k < last; ++k) batch.push_back(set.ids[order[k]]), targets.push_back(set.targets[order[k]]);
    Matrix<float> p, logits;
    impl_->reader.classify(batch, p, nullptr, &logits, bags.get());
    m.loss += cross_entropy_sum<float>(logits, targets);
    for (std::size_t k = first; k < last; ++k) {
      const Prediction one = prediction_of(p, Eigen::Index(k - first), 0);
      probs[order[k]] = one.probabilities;
      m.accuracy += one.label == set.targets[order[k]];
    }
  }
  if (m.n) m.loss /= double(m.n), m.accuracy /= double(m.n);
  EvalReport r = make_report(info.labels, m, probs, set.targets);
  r.unknown_words = set.n_unknown;
  return r;
}

HiddenStates Classifier::hidden_states(const std::string& text) const {
  const auto bags = impl_->call_bags();
  const Encoded e = impl_->encode(text, bags.get());
  Matrix<float> probs;
  std::vector<ReadTrace<float>> traces;
  impl_->reader.classify({e.ids}, probs, &traces, nullptr, bags.get());
  return hidden_states_of(traces[0], impl_->info.config);
}

ClassifierExplanation Classifier::explain(const std::string& text) const {
  const ModelInfo& info = impl_->info;
  ClassifierExplanation x;
  x.tokens = tokenize(info.tokenizer, normalize(text, info.normalization));
  const auto bags = impl_->call_bags();
  std::vector<int> ids;
  for (const std::string& t : x.tokens) {
    x.known.push_back(info.vocab.id(t) != Vocabulary::unknown);
    ids.push_back(token_id(info.vocab, t, bags.get()));
  }
  Matrix<float> probs;
  std::vector<ReadTrace<float>> traces;
  impl_->reader.classify({ids}, probs, &traces, nullptr, bags.get());
  const Prediction whole = prediction_of(probs, 0, 0);
  x.label = whole.label;
  x.probabilities = whole.probabilities;
  x.states = hidden_states_of(traces[0], info.config);
  // Every prefix, and the text without each of its tokens: one batch.
  const std::size_t T = ids.size();
  std::vector<std::vector<int>> variants;
  for (std::size_t t = 1; t <= T; ++t) variants.emplace_back(ids.begin(), ids.begin() + std::ptrdiff_t(t));
  for (std::size_t t = 0; t < T; ++t) {
    std::vector<int> without = ids;
    without.erase(without.begin() + std::ptrdiff_t(t));
    variants.push_back(std::move(without));
  }
  if (T == 0) return x;
  impl_->reader.classify(variants, probs, nullptr, nullptr, bags.get());
  for (std::size_t t = 0; t < T; ++t) {
    x.prefix_probabilities.push_back(prediction_of(probs, Eigen::Index(t), 0).probabilities);
    x.importance.push_back(whole.probabilities[std::size_t(whole.label)] - double(probs(Eigen::Index(T + t), whole.label)));
  }
  return x;
}

std::string EvalReport::json() const {
  nlohmann::ordered_json j;
  j["n"] = metrics.n;
  j["loss"] = metrics.loss;
  j["accuracy"] = metrics.accuracy;
  j["macro_f1"] = macro_f1;
  j["unknown_words"] = unknown_words;
  j["labels"] = labels;
  j["confusion"] = confusion;
  nlohmann::ordered_json per = nlohmann::ordered_json::object();
  for (std::size_t c = 0; c < per_class.size(); ++c)
    per[labels[c]] = {{"precision", per_class[c].precision},
                      {"recall", per_class[c].recall},
                      {"f1", per_class[c].f1},
                      {"support", per_class[c].support}};
  j["per_class"] = per;
  return j.dump();
}

ClassifierData ClassifierData::seed() {
  ClassifierData d;
  d.train = builtin_seed_train();
  d.test = builtin_seed_test();
  d.train_name = "<built-in>/seed_train.tsv";
  d.test_name = "<built-in>/seed_test.tsv";
  return d;
}

namespace {

// Holds --valid-fraction of `rows` out for validation, stratified, with a
// generator of its own seeded by --seed (so the split does not move the
// training run's random numbers). Returns the held-out rows; `rows` keeps the rest.
std::vector<LabeledText> split_validation(std::vector<LabeledText>& rows, double fraction, std::uint32_t seed) {
  Rng rng(seed ^ 0x76616c69u);  // "vali": a stream of its own
  const std::vector<int> held = stratified_holdout(rows, fraction, rng);
  std::vector<LabeledText> valid = select(rows, held, true);
  rows = select(rows, held, false);
  if (valid.empty()) throw Error("--valid-fraction " + std::to_string(fraction) + " holds out no example");
  return valid;
}

}  // namespace

// Friend of Classifier: builds one from a trained model.
struct ClassifierTraining {
  static Classifier make(ModelInfo info, Model<float> model) {
    return Classifier(std::make_unique<Classifier::Impl>(std::move(info), std::move(model)));
  }

  template <class T>
  static ClassifierRun run(ClassifierData data, const TrainOptions& o, const TrainCallbacks& cb,
                           Communicator* processes) {
    ModelInfo info;
    info.tokenizer = tokenizer_from_string(o.tokenizer_or_default());
    info.normalization = normalization_for(o.lowercase);
    const std::vector<LabeledText> train = normalized(data.train, info.normalization);
    VocabOptions vo;
    vo.min_count = o.min_count;
    vo.max_vocab = o.max_vocab;
    info.vocab = build_vocab(train, info.tokenizer, vo);
    // A language model to start from (--init-from): the classifier reads text
    // as it did, with its vocabulary, so its embedding rows carry over.
    std::unique_ptr<LoadedModel> lm;
    if (!o.init_from.empty()) {
      lm = std::make_unique<LoadedModel>(load_model(o.init_from));
      const std::string where = "--init-from " + o.init_from + ": ";
      if (lm->info.config.task != Task::lm) throw Error(where + "a classifier, not a language model (recur train --task lm)");
      if (lm->info.tokenizer != info.tokenizer || lm->info.normalization != info.normalization)
        throw Error(where + "the language model reads " + to_string(lm->info.tokenizer) + " tokens (" +
                    to_string(lm->info.normalization) + "), this classifier " + to_string(info.tokenizer) + " (" +
                    to_string(info.normalization) + "): train the language model with the same --tokenizer and --lowercase");
      const ModelConfig& l = lm->info.config;
      auto differs = [&](const char* flag, long have, long want) {
        if (have != want)
          throw Error(where + "a language model of " + flag + " " + std::to_string(have) + ", but this classifier has " +
                      flag + " " + std::to_string(want) + " (give " + flag + " " + std::to_string(have) + ")");
      };
      if (cell_from_name(o.cell) != l.cell)
        throw Error(where + "a language model of --cell " + cell_name(l.cell) + ", but this classifier's is " + o.cell);
      differs("--hidden", l.hidden, o.hidden);
      differs("--layers", l.layers, o.layers);
      differs("--embed", l.embed, o.embed);
      if (o.bidirectional && o.layers > 1)
        throw Error(where + "a bidirectional classifier's upper layers read both directions, which a language model "
                    "never had: use one layer, or no --bidirectional");
      if (l.bias_hh != o.bias_hh)
        throw Error(where + (l.bias_hh ? "a language model with the second bias b_hh: give --bias-hh"
                                       : "a language model without the second bias b_hh: leave out --bias-hh"));
      info.vocab = lm->info.vocab;
      if (cb.on_note) cb.on_note(o.init_from + ": the vocabulary (" + std::to_string(info.vocab.size()) +
                                 " words) and the embedding and recurrent weights of this language model");
    }
    // Pretrained vectors: checked before anything trains; with --vectors-vocab
    // their words join the vocabulary (before <unk>, which stays last).
    std::unique_ptr<WordVectors> vectors;
    if (!o.vectors.empty()) {
      vectors = std::make_unique<WordVectors>(read_word_vectors(o.vectors));
      if (vectors->dim != o.embed)
        throw Error("--vectors " + o.vectors + ": vectors of " + std::to_string(vectors->dim) +
                    " dimensions, but the embedding has " + std::to_string(o.embed) + " (give --embed " +
                    std::to_string(vectors->dim) + ")");
      if (o.vectors_vocab) {
        Vocabulary grown;
        const bool unk = info.vocab.id(kUnknownToken) != Vocabulary::unknown;
        for (const std::string& t : info.vocab.tokens())
          if (t != kUnknownToken) grown.add(t);
        for (const std::string& w : vectors->words)
          if (w != kUnknownToken) grown.add(w);
        if (unk) grown.add(kUnknownToken);
        info.vocab = std::move(grown);
      }
    }
    info.labels = sorted_labels(train);
    if (info.labels.size() < 2)
      throw Error(data.train_name + ": needs at least 2 distinct labels, found " + std::to_string(info.labels.size()));
    ModelConfig& c = info.config;
    c.cell = cell_from_name(o.cell);
    c.vocab = info.vocab.size();
    c.hidden = o.hidden;
    c.layers = o.layers;
    c.embed = o.embed;
    c.bidirectional = o.bidirectional;
    c.dropout = o.dropout;
    c.pool = pool_from_string(o.pool);
    if (!o.subwords.empty()) c.subwords = subword_spec(o.subwords, o.buckets);
    c.word_dropout = o.word_dropout;
    c.embed_dropout = o.embed_dropout;
    if (info.vocab.id(kUnknownToken) != Vocabulary::unknown) c.unknown_id = info.vocab.id(kUnknownToken);
    c.classes = int(info.labels.size());
    c.bias_hh = o.bias_hh;  // off: the seed's single bias b_h

    // Subwords: the vocabulary's bags, and every set's words outside it.
    std::unique_ptr<TokenBags> vocab_bags, bags;
    if (c.subwords.enabled()) {
      vocab_bags = std::make_unique<TokenBags>(info.vocab, c.subwords);
      bags = std::make_unique<TokenBags>(*vocab_bags, true);
    }
    const EncodedSet train_set =
        encode_set(train, info.vocab, info.tokenizer, info.labels, data.train_name, bags.get());
    auto encode_held = [&](const std::vector<LabeledText>& rows, const std::string& name) {
      std::unique_ptr<EncodedSet> s;
      if (rows.empty()) return s;
      s = std::make_unique<EncodedSet>(encode_set(normalized(rows, info.normalization), info.vocab, info.tokenizer,
                                                  info.labels, name, bags.get()));
      if (s->n_unknown && cb.on_note)
        cb.on_note(name + ": " + std::to_string(s->n_unknown) + " words not in the training vocabulary (" +
                   info.unknown_words_policy() + ")");
      return s;
    };
    const auto valid_set = encode_held(data.valid, data.valid_name);
    const auto test_set = encode_held(data.test, data.test_name);
    if (cb.on_start) cb.on_start({&info, long(data.train.size()), long(data.valid.size()), long(data.test.size())});

    TrainerOptions to = trainer_options(o, true);
    if (o.freeze_embedding)  // embedding.weight: the first tensor (stack.hpp)
      to.step.frozen = {{0, std::size_t(c.vocab) * std::size_t(c.embed)}};
    if (o.sparse_embedding) {  // the input tables, where they lie in the buffer (the tensors' order, unpadded)
      std::size_t at = 0;
      for (const TensorShape& p : parameter_shapes(c)) {
        const std::size_t rows = std::size_t(p.shape[0]), cols = p.shape.size() > 1 ? std::size_t(p.shape[1]) : 1;
        if (p.name == "embedding.weight" || p.name == "subwords.weight") to.step.sparse.push_back({at, rows, cols});
        at += rows * cols;
      }
    }
    std::function<void(Model<T>&)> prepare;
    if (lm)  // every tensor but the head (a bidirectional layer's reverse direction stays as initialized)
      prepare = [&](Model<T>& m) {
        for (const ParamSpec& p : lm->model.table().specs()) {
          if (p.name.rfind("head.", 0) == 0) continue;
          const ParamSpec* q = m.table().find(p.name);
          if (!q || q->rows != p.rows || q->cols != p.cols) throw Error("--init-from " + o.init_from + ": tensor " + p.name + " does not fit");
          for (std::size_t i = 0; i < p.size(); ++i) m.weights()[q->offset + i] = T(lm->model.weights()[p.offset + i]);
        }
      };
    if (vectors) {
      long found = 0;
      for (const auto& w : vectors->words) found += info.vocab.id(w) != Vocabulary::unknown;
      if (cb.on_note)
        cb.on_note(o.vectors + ": vectors for " + std::to_string(found) + " of the " + std::to_string(c.vocab) +
                   " vocabulary entries" + (o.freeze_embedding ? " (frozen)" : ""));
      prepare = [&](Model<T>& m) {
        auto E = m.param("embedding.weight");
        for (std::size_t i = 0; i < vectors->words.size(); ++i) {
          const int id = info.vocab.id(vectors->words[i]);
          if (id == Vocabulary::unknown) continue;
          for (int j = 0; j < c.embed; ++j) E(id, j) = T(vectors->row(i)[j]);
        }
      };
    }
    return on_threads<ClassifierRun>(o, processes, cb, [&](Communicator* ranks, const TrainCallbacks& callbacks) {
      const Parallel parallel = parallel_for(o, ranks);
      BucketBatcher batcher(train_set, o.batch, parallel.split);
      SessionResult<Model<T>> s = run_session<Model<T>>(
          info, o, to, batcher, [&](Model<T>& m) { return std::make_unique<ManyToOne<T>>(m, o.label_smoothing); },
          [&](const Model<T>& m) {
            Evaluators e;
            if (valid_set) e.valid = [&m, &valid_set] { return evaluate_many_to_one(m, *valid_set); };
            if (test_set) e.test = [&m, &test_set] { return evaluate_many_to_one(m, *test_set); };
            return e;
          },
          callbacks, parallel, prepare);
      ClassifierRun run{make(info, to_float(*s.model)), s.result, std::move(s.history), {}, s.seconds,
                        s.checkpoint, false, {}};
      if (!parallel.root()) return run;  // (the data goes with rank 0's run)
      run.data = std::move(data);
      if (test_set && !s.result.interrupted) {
        run.has_test = true;
        run.test = evaluate_many_to_one(*s.model, *test_set);
      }
      return run;
    });
  }
};

ClassifierRun Classifier::train(const ClassifierData& given, const TrainOptions& o, const TrainCallbacks& cb,
                                Communicator* processes) {
  check(o);
  if (o.task != "classify") throw Error("a classifier is trained with --task classify, not " + o.task);
  if (given.train.empty()) throw Error(given.train_name + ": no training examples");
  if (!given.valid.empty() && o.valid_fraction > 0) throw Error("give --valid or --valid-fraction, not both");
  if (o.patience > 0 && given.valid.empty() && !(o.valid_fraction > 0))
    throw Error("--patience needs validation data: --valid FILE or --valid-fraction X");
  ClassifierData data = given;
  if (o.valid_fraction > 0) {
    data.valid = split_validation(data.train, o.valid_fraction, o.seed);
    data.valid_name = data.train_name + " (held out: " + std::to_string(data.valid.size()) + ")";
  }
  if (o.dtype == "f64") return ClassifierTraining::run<double>(std::move(data), o, cb, processes);
  return ClassifierTraining::run<float>(std::move(data), o, cb, processes);
}

// ---- cross-validation ------------------------------------------------------------

Summary summarize(const std::vector<double>& xs) {
  Summary s;
  if (xs.empty()) return s;
  for (const double x : xs) s.mean += x;
  s.mean /= double(xs.size());
  if (xs.size() > 1) {
    for (const double x : xs) s.std += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(s.std / double(xs.size() - 1));
  }
  return s;
}

std::vector<int> cv_folds(const std::vector<LabeledText>& rows, int folds, std::uint32_t seed) {
  Rng rng(seed ^ 0x666f6c64u);  // "fold": a stream of its own
  return stratified_folds(rows, folds, rng);
}

CvResult cross_validate(const std::vector<LabeledText>& rows, const std::string& name, const std::vector<int>& fold_of,
                        int folds, const TrainOptions& o, const CvCallbacks& cb) {
  check(o);
  if (folds < 2) throw Error("--folds must be at least 2");
  if (fold_of.size() != rows.size()) throw Error("cross_validate: one fold per example is needed");
  if (!o.save.empty() || !o.resume.empty() || !o.checkpoint.empty())
    throw Error("cross-validation trains one model per fold and keeps none: --save, --resume and --checkpoint "
                "are for training one model");
  if (o.patience > 0 && !(o.valid_fraction > 0)) throw Error("--patience needs --valid-fraction");
  CvResult out;
  std::vector<double> acc, f1, loss;
  for (int k = 0; k < folds; ++k) {
    std::vector<int> held;
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (fold_of[i] == k) held.push_back(int(i));
    ClassifierData d;
    d.train = select(rows, held, false);
    d.test = select(rows, held, true);
    d.train_name = name + " (fold " + std::to_string(k + 1) + ")";
    d.test_name = d.train_name + " test";
    if (cb.on_fold_begin) cb.on_fold_begin(k);
    TrainOptions fold_options = o;
    fold_options.checkpoints = false;  // a fold's model is not kept
    const ClassifierRun run = Classifier::train(d, fold_options, cb.train);
    if (run.result.interrupted) break;
    CvFold f{run.model.evaluate(run.data.test, d.test_name), run.result, run.seconds};
    acc.push_back(f.test.metrics.accuracy), f1.push_back(f.test.macro_f1), loss.push_back(f.test.metrics.loss);
    out.folds.push_back(f);
    if (cb.on_fold_end) cb.on_fold_end(k, out.folds.back());
  }
  out.accuracy = summarize(acc), out.macro_f1 = summarize(f1), out.loss = summarize(loss);
  return out;
}

}  // namespace recur
