// recur train (classify): a many-to-one classifier on labelled text, with
// validation, early stopping, checkpoints, a progress bar and an HTML report.
#include "classify.hpp"

#include <chrono>
#include <cstdio>
#include <functional>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "progress.hpp"
#include "recur/checkpoint.hpp"
#include "report.hpp"

namespace recur_cli {

std::vector<recur::LabeledText> split_validation(const TrainArgs& a, std::vector<recur::LabeledText>& rows) {
  if (!(a.valid_fraction > 0)) return {};
  recur::Rng rng(a.seed ^ 0x76616c69u);  // "vali": a stream of its own
  const std::vector<int> held = recur::stratified_holdout(rows, a.valid_fraction, rng);
  std::vector<recur::LabeledText> valid = recur::select(rows, held, true);
  rows = recur::select(rows, held, false);
  if (valid.empty()) throw recur::Error("--valid-fraction " + std::to_string(a.valid_fraction) + " holds out no example");
  return valid;
}

ClassifySets prepare_classify(const TrainArgs& a, std::vector<recur::LabeledText> train,
                              std::vector<recur::LabeledText> valid, std::vector<recur::LabeledText> test,
                              const std::string& train_name, const std::string& valid_name,
                              const std::string& test_name, bool quiet) {
  ClassifySets d;
  d.train_name = train_name, d.valid_name = valid_name, d.test_name = test_name;
  recur::ModelInfo& info = d.info;
  info.tokenizer = recur::tokenizer_from_string(a.tokenizer_given ? a.tokenizer : "whitespace");
  if (info.tokenizer == recur::TokenizerKind::chr) throw recur::Error("--tokenizer char is for --task lm");
  info.lowercase = a.lowercase;
  for (auto* rows : {&train, &valid, &test})
    for (auto& r : *rows) r.text = normalize(r.text, info);
  recur::VocabOptions vo;
  vo.min_count = a.min_count;
  vo.max_vocab = a.max_vocab;
  info.vocab = recur::build_vocab(train, info.tokenizer, vo);
  info.labels = recur::sorted_labels(train);
  if (info.labels.size() < 2)
    throw recur::Error(train_name + ": needs at least 2 distinct labels, found " + std::to_string(info.labels.size()));
  auto& c = info.config;
  c.cell = recur::cell_from_name(a.cell);
  c.vocab = info.vocab.size();
  c.hidden = a.hidden;
  c.layers = a.layers;
  c.embed = a.embed;
  c.bidirectional = a.bidirectional;
  c.dropout = a.dropout;
  c.classes = int(info.labels.size());
  c.bias_hh = a.bias_hh;  // off: the seed's single bias b_h

  d.train = recur::encode_set(train, info.vocab, info.tokenizer, info.labels, train_name);
  auto encode = [&](const std::vector<recur::LabeledText>& rows, const std::string& name) {
    std::unique_ptr<recur::EncodedSet> s;
    if (rows.empty()) return s;
    s = std::make_unique<recur::EncodedSet>(recur::encode_set(rows, info.vocab, info.tokenizer, info.labels, name));
    if (s->n_unknown && !quiet)
      std::fprintf(stderr, "recur: %s: %ld words not in the training vocabulary (%s)\n", name.c_str(), s->n_unknown,
                   unknown_words_policy(info.vocab).c_str());
    return s;
  };
  d.valid = encode(valid, valid_name);
  d.test = encode(test, test_name);
  return d;
}

namespace {

// The HTML report of a run: curves of every evaluation, and the confusion
// matrix of the final model on validation data (else test, else training data).
void write_classify_report(const TrainArgs& a, const ClassifySets& d, const ClassifyOutcome& out) {
  ReportPage page;
  page.title = "recur train: " + d.train_name;
  Chart loss{"Loss", "epoch", "cross-entropy (nats)", {}}, acc{"Accuracy", "epoch", "accuracy", {}};
  Series tl{"train", {}, {}, true}, ta{"train", {}, {}, true}, vl{"validation", {}, {}}, va{"validation", {}, {}},
      sl{"test", {}, {}}, sa{"test", {}, {}};
  for (const recur::EpochLog& l : out.history) {
    tl.x.push_back(l.epoch), tl.y.push_back(l.train.loss), ta.x.push_back(l.epoch), ta.y.push_back(l.train.accuracy);
    if (l.has_valid)
      vl.x.push_back(l.epoch), vl.y.push_back(l.valid.loss), va.x.push_back(l.epoch), va.y.push_back(l.valid.accuracy);
    if (l.has_test)
      sl.x.push_back(l.epoch), sl.y.push_back(l.test.loss), sa.x.push_back(l.epoch), sa.y.push_back(l.test.accuracy);
  }
  for (auto* s : {&tl, &vl, &sl})
    if (!s->x.empty()) loss.series.push_back(*s);
  for (auto* s : {&ta, &va, &sa})
    if (!s->x.empty()) acc.series.push_back(*s);
  if (out.result.has_best)
    for (Chart* c : {&loss, &acc}) c->marker_x = double(out.result.best_epoch), c->marker_label = "best";
  page.charts = {loss, acc};

  const recur::EncodedSet& on = d.valid ? *d.valid : d.test ? *d.test : d.train;
  page.confusion_of = d.valid ? "validation data, " + d.valid_name
                      : d.test ? "test data, " + d.test_name
                               : "training data, " + d.train_name;
  const Report r = report(*out.model, on, d.info.config.classes);
  page.labels = d.info.labels;
  page.confusion = r.confusion;
  for (std::size_t c = 0; c < r.per_class.size(); ++c) {
    const auto& s = r.per_class[c];
    page.per_class.push_back({d.info.labels[c], s.precision, s.recall, s.f1, s.support});
  }
  auto fmt = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", x);
    return std::string(b);
  };
  if (out.result.has_best) {
    page.summary.push_back({"best validation accuracy", fmt(out.result.best.accuracy)});
    page.summary.push_back({"best epoch", std::to_string(out.result.best_epoch)});
  }
  page.summary.push_back({"accuracy (" + std::string(d.valid ? "validation" : d.test ? "test" : "training") + ")",
                          fmt(r.metrics.accuracy)});
  page.summary.push_back({"macro-F1", fmt(r.macro_f1)});
  if (d.valid && d.test) page.summary.push_back({"test accuracy", fmt(report(*out.model, *d.test, d.info.config.classes).metrics.accuracy)});
  page.summary.push_back({"epochs run", std::to_string(out.result.epochs_run) + (out.result.stopped_early ? " (early stop)" : "")});
  page.summary.push_back({"training time", format_duration(out.seconds)});
  page.settings = settings_of(a);
  page.settings.push_back({"vocabulary", std::to_string(d.info.vocab.size())});
  page.settings.push_back({"examples (train / valid / test)",
                           std::to_string(d.train.ids.size()) + " / " +
                               std::to_string(d.valid ? d.valid->ids.size() : 0) + " / " +
                               std::to_string(d.test ? d.test->ids.size() : 0)});
  write_report(a.report, page);
}

template <class T>
ClassifyOutcome run(const TrainArgs& a, const ClassifySets& d, RunMode mode, const std::string& head) {
  const recur::ModelInfo& info = d.info;
  const bool train_mode = mode == RunMode::train;
  recur::Model<T> model(info.config);
  recur::Rng rng(a.seed);
  recur::init_weights(model, recur::init_from_string(a.init), rng, a.forget_bias);
  recur::TrainOptions opt;
  opt.epochs = a.epochs;
  opt.batch = a.batch;
  opt.step = step_options(a);
  opt.log_every = a.log_every > 0 ? a.log_every : std::max(1, a.epochs / 10);
  opt.patience = a.patience;
  recur::Optimizer<T> optimizer(opt.step.optimizer, model.weights().size());

  ClassifyOutcome out;
  const bool printing = train_mode && !a.quiet;
  Progress progress(!a.quiet);
  recur::ClassifierHooks hooks;
  std::unique_ptr<recur::LoadedCheckpoint> ck;
  const std::string ckpt = checkpoint_path(a);
  const bool asked = !a.save.empty() || !a.checkpoint.empty();  // else checkpoints only on Ctrl-C
  if constexpr (std::is_same_v<T, float>) {
    if (train_mode && !a.resume.empty()) {
      ck = resume_run(a.resume, info, model, optimizer);
      hooks.resume = &ck->state.point;
      std::fprintf(stderr, "recur: resuming %s at epoch %ld, step %ld\n", a.resume.c_str(), ck->state.point.epoch,
                   ck->state.point.position);
    }
  } else if (!a.resume.empty() || !a.checkpoint.empty()) {
    throw recur::Error("--dtype f64 runs do not checkpoint or resume");
  }
  // After every step: the progress bar, periodic checkpoints, and Ctrl-C.
  hooks.after_step = [&](const recur::StepEvent& ev, const std::function<recur::RunPoint()>& at) {
    progress.update([&] { return head + "epoch " + std::to_string(ev.epoch) + "/" + std::to_string(ev.epochs); },
                    (ev.epoch - 1) * ev.steps + ev.position, ev.epochs * ev.steps, ev.loss, ev.tokens);
    const bool stop = interrupted();
    if constexpr (std::is_same_v<T, float>) {
      const bool periodic = a.checkpoint_every > 0
                                ? ev.position % a.checkpoint_every == 0 && !ev.epoch_end
                                : ev.epoch_end && (ev.epoch % opt.log_every == 0 || ev.epoch == a.epochs);
      if (train_mode && (stop || (asked && periodic))) {
        recur::TrainingState state;
        state.point = at();
        recur::save_checkpoint(ckpt, model, info, optimizer, state);
      }
      if (stop) {
        progress.clear();
        if (train_mode) report_interrupt(ckpt, ev.epoch, ev.position);
      }
    }
    return !stop;
  };

  JsonLog json_log(train_mode ? a.log_json : "");
  const auto t0 = std::chrono::steady_clock::now();
  out.result = recur::train_classifier<T>(
      model, optimizer, d.train, d.valid.get(), d.test.get(), opt, rng,
      [&](const recur::EpochLog& log) {
        out.history.push_back(log);
        if (printing) {
          progress.clear();
          std::fputs(recur::format_seed_log(log).c_str(), stdout);
          std::fflush(stdout);
        }
        nlohmann::ordered_json j;
        j["epoch"] = log.epoch;
        j["train_loss"] = log.train.loss;
        j["train_accuracy"] = log.train.accuracy;
        if (log.has_valid) {
          j["valid_loss"] = log.valid.loss;
          j["valid_accuracy"] = log.valid.accuracy;
          j["best"] = log.best;
        }
        if (log.has_test) {
          j["test_loss"] = log.test.loss;
          j["test_accuracy"] = log.test.accuracy;
        }
        json_log.write(j.dump());
      },
      hooks);
  progress.clear();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.model = std::make_unique<recur::Model<float>>(info.config);
  std::copy(model.weights().begin(), model.weights().end(), out.model->weights().begin());
  if (interrupted()) {
    if (train_mode && !a.report.empty()) write_classify_report(a, d, out);  // what there is so far
    throw Interrupted();
  }
  if (printing && out.result.has_best) {
    std::printf("Best:\tepoch %ld | Valid loss %.3f | Accuracy: %.3f%s\n", out.result.best_epoch,
                out.result.best.loss, out.result.best.accuracy,
                out.result.stopped_early
                    ? (" (stopped at epoch " + std::to_string(out.result.epochs_run) + ", patience " +
                       std::to_string(a.patience) + ")").c_str()
                    : "");
    if (d.test) {
      const recur::Metrics t = recur::evaluate(model, *d.test);
      std::printf("Test:\tLoss %.3f | Accuracy: %.3f (the best epoch's model)\n", t.loss, t.accuracy);
    }
  }
  std::fflush(stdout);  // the log before the messages below, also when both go to one file
  if (train_mode && !a.save.empty()) {
    recur::save_model(a.save, model, info);
    std::fprintf(stderr, "recur: saved %s model to %s\n", out.result.has_best ? "the best validated" : "the",
                 a.save.c_str());
  }
  if (train_mode && !a.report.empty()) {
    write_classify_report(a, d, out);
    std::fprintf(stderr, "recur: wrote the report to %s\n", a.report.c_str());
  }
  return out;
}

}  // namespace

ClassifyOutcome run_classifier(const TrainArgs& a, const ClassifySets& d, RunMode mode, const std::string& head) {
  if (a.dtype == "f64") return run<double>(a, d, mode, head);
  return run<float>(a, d, mode, head);
}

void train_classify_command(const TrainArgs& a) {
  if (a.epochs < 1) throw recur::Error("--epochs must be at least 1");
  if (a.train.empty() && (!a.test.empty() || !a.valid.empty())) throw recur::Error("--test and --valid need --train");
  if (!(a.valid_fraction >= 0 && a.valid_fraction < 1)) throw recur::Error("--valid-fraction must be in [0, 1)");
  if (!a.valid.empty() && a.valid_fraction > 0) throw recur::Error("give --valid or --valid-fraction, not both");
  if (a.patience < 0) throw recur::Error("--patience must be >= 0");
  if (a.patience > 0 && a.valid.empty() && !(a.valid_fraction > 0))
    throw recur::Error("--patience needs validation data: --valid FILE or --valid-fraction X");

  std::vector<recur::LabeledText> train_rows, valid_rows, test_rows;
  std::string train_name, valid_name, test_name;
  if (a.train.empty()) {  // the seed experiment on the built-in data
    train_name = "<built-in>/seed_train.tsv";
    test_name = "<built-in>/seed_test.tsv";
    train_rows = recur::parse_tsv(kBuiltinTrain, train_name);
    test_rows = recur::parse_tsv(kBuiltinTest, test_name);
  } else {
    train_name = a.train;
    train_rows = load_data(a.train, a.data);
    if (!a.test.empty()) test_name = a.test, test_rows = load_data(a.test, a.data);
    if (!a.valid.empty()) valid_name = a.valid, valid_rows = load_data(a.valid, a.data);
  }
  if (a.valid_fraction > 0) {
    valid_rows = split_validation(a, train_rows);
    valid_name = train_name + " (held out: " + std::to_string(valid_rows.size()) + ")";
  }
  const ClassifySets d = prepare_classify(a, std::move(train_rows), std::move(valid_rows), std::move(test_rows),
                                          train_name, valid_name, test_name);
  if (!a.quiet) std::printf("%d unique words found\n", d.info.vocab.size());
  run_classifier(a, d, RunMode::train);
}

}  // namespace recur_cli
