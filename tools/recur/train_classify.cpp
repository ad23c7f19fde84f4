// recur train (classify): a many-to-one classifier on labelled text, with
// validation, early stopping, checkpoints, a progress bar and an HTML report.
// The library trains (recur::Classifier::train); this file reads the files,
// shows the run and writes its report.
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "progress.hpp"
#include "recur/classifier.hpp"
#include "report.hpp"

namespace recur_cli {

namespace {

// The HTML report of a run: curves of every evaluation, and the confusion
// matrix of the final model on validation data (else test, else training data).
void write_classify_report(const TrainArgs& a, const recur::ClassifierRun& run) {
  const recur::ClassifierData& d = run.data;
  const recur::ModelInfo& info = run.model.info();
  ReportPage page;
  page.title = "recur train: " + d.train_name;
  Chart loss{"Loss", "epoch", "cross-entropy (nats)", {}}, acc{"Accuracy", "epoch", "accuracy", {}};
  Series tl{"train", {}, {}, true}, ta{"train", {}, {}, true}, vl{"validation", {}, {}}, va{"validation", {}, {}},
      sl{"test", {}, {}}, sa{"test", {}, {}};
  for (const recur::Evaluation& l : run.history) {
    const double x = double(l.epoch);
    tl.x.push_back(x), tl.y.push_back(l.train.loss), ta.x.push_back(x), ta.y.push_back(l.train.accuracy);
    if (l.has_valid) vl.x.push_back(x), vl.y.push_back(l.valid.loss), va.x.push_back(x), va.y.push_back(l.valid.accuracy);
    if (l.has_test) sl.x.push_back(x), sl.y.push_back(l.test.loss), sa.x.push_back(x), sa.y.push_back(l.test.accuracy);
  }
  for (auto* s : {&tl, &vl, &sl})
    if (!s->x.empty()) loss.series.push_back(*s);
  for (auto* s : {&ta, &va, &sa})
    if (!s->x.empty()) acc.series.push_back(*s);
  if (run.result.has_best)
    for (Chart* c : {&loss, &acc}) c->marker_x = double(run.result.best_at), c->marker_label = "best";
  page.charts = {loss, acc};

  const bool valid = !d.valid.empty(), test = !d.test.empty();
  page.confusion_of = valid  ? "validation data, " + d.valid_name
                      : test ? "test data, " + d.test_name
                             : "training data, " + d.train_name;
  const recur::EvalReport r = valid  ? run.model.evaluate(d.valid, d.valid_name)
                              : test ? run.model.evaluate(d.test, d.test_name)
                                     : run.model.evaluate(d.train, d.train_name);
  page.labels = info.labels;
  page.confusion = r.confusion;
  for (std::size_t c = 0; c < r.per_class.size(); ++c) {
    const auto& s = r.per_class[c];
    page.per_class.push_back({info.labels[c], s.precision, s.recall, s.f1, s.support});
  }
  auto fmt = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", x);
    return std::string(b);
  };
  if (run.result.has_best) {
    page.summary.push_back({"best validation accuracy", fmt(run.result.best.accuracy)});
    page.summary.push_back({"best epoch", std::to_string(run.result.best_at)});
  }
  page.summary.push_back({"accuracy (" + std::string(valid ? "validation" : test ? "test" : "training") + ")",
                          fmt(r.metrics.accuracy)});
  page.summary.push_back({"macro-F1", fmt(r.macro_f1)});
  if (valid && test)
    page.summary.push_back({"test accuracy", fmt(run.model.evaluate(d.test, d.test_name).metrics.accuracy)});
  page.summary.push_back({"epochs run", std::to_string(run.result.epochs_run) +
                                            (run.result.stopped_early ? " (early stop)" : "")});
  page.summary.push_back({"training time", format_duration(run.seconds)});
  page.settings = settings_of(a);
  page.settings.push_back({"vocabulary", std::to_string(info.vocab.size())});
  page.settings.push_back({"examples (train / valid / test)", std::to_string(d.train.size()) + " / " +
                                                                  std::to_string(d.valid.size()) + " / " +
                                                                  std::to_string(d.test.size())});
  write_report(a.report, page);
}

}  // namespace

void train_classify_command(const TrainArgs& a, recur::Communicator* processes) {
  if (a.train.empty() && (!a.test.empty() || !a.valid.empty())) throw recur::Error("--test and --valid need --train");
  recur::ClassifierData d;
  if (a.train.empty()) {  // the seed experiment on the built-in data
    d = recur::ClassifierData::seed();
  } else {
    d.train_name = a.train;
    d.train = load_data(a.train, a.data);
    if (!a.test.empty()) d.test_name = a.test, d.test = load_data(a.test, a.data);
    if (!a.valid.empty()) d.valid_name = a.valid, d.valid = load_data(a.valid, a.data);
  }

  // No bar under mpirun: it gives every process a terminal, also when its
  // output goes to a file, and the log lines say how the run goes.
  Progress progress(!a.quiet && !processes);
  JsonLog json_log(a.log_json);
  recur::TrainCallbacks cb;
  cb.on_start = [&](const recur::RunStart& s) {
    if (!a.quiet) std::printf("%d unique words found\n", s.info->vocab.size());
  };
  cb.on_note = note;
  cb.on_step = [&](const recur::StepEvent& ev) {
    progress.update([&] { return "epoch " + std::to_string(ev.epoch) + "/" + std::to_string(ev.epochs); }, ev.step,
                    ev.steps, ev.loss, ev.tokens);
    return !interrupted();
  };
  cb.on_evaluation = [&](const recur::Evaluation& e) {
    if (!a.quiet) {
      progress.clear();
      std::fputs(recur::format_seed_log(e).c_str(), stdout);
      std::fflush(stdout);
    }
    json_log.write(recur::to_json(e));
    return true;
  };
  const recur::ClassifierRun run = recur::Classifier::train(d, a.o, cb, processes);
  progress.clear();
  if (run.result.interrupted) {
    if (!run.checkpoint.empty()) report_interrupt(run.checkpoint, run.result.epoch, run.result.position);
    if (!a.report.empty()) write_classify_report(a, run);  // what there is so far
    throw Interrupted();
  }
  const recur::TrainResult& r = run.result;
  if (!a.quiet && r.has_best) {
    std::printf("Best:\tepoch %ld | Valid loss %.3f | Accuracy: %.3f%s\n", r.best_at, r.best.loss, r.best.accuracy,
                r.stopped_early ? (" (stopped at epoch " + std::to_string(r.epochs_run) + ", patience " +
                                   std::to_string(a.o.patience) + ")").c_str()
                                : "");
    if (run.has_test)
      std::printf("Test:\tLoss %.3f | Accuracy: %.3f (the best epoch's model)\n", run.test.loss, run.test.accuracy);
  }
  std::fflush(stdout);  // the log before the messages below, also when both go to one file
  if (!a.o.save.empty()) note("saved " + std::string(r.has_best ? "the best validated" : "the") + " model to " + a.o.save);
  if (!a.report.empty()) {
    write_classify_report(a, run);
    note("wrote the report to " + a.report);
  }
}

}  // namespace recur_cli
