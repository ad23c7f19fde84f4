// recur train --task seq2seq — an encoder-decoder on source<TAB>target pairs,
// with validation by the outputs' sequence accuracy, early stopping,
// checkpoints, a progress bar and an HTML report. The library trains
// (recur::Translator::train); this file reads the files and shows the run.
#include <cstdio>

#include "common.hpp"
#include "progress.hpp"
#include "recur/translator.hpp"
#include "report.hpp"

namespace recur_cli {
namespace {

std::string fixed(const char* f, double x) {
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}

// Curves of every evaluation, the held-out error rates of the final model, and
// some of its outputs beside their references.
void write_seq2seq_report(const TrainArgs& a, const recur::TranslatorRun& run) {
  const recur::Seq2SeqData& d = run.data;
  ReportPage page;
  page.title = "recur train --task seq2seq: " + d.train_name;
  Chart loss{"Loss", "epoch", "cross-entropy per target symbol (nats)", {}},
      acc{"Sequence accuracy", "epoch", "outputs equal to a reference (greedy)", {}};
  Series tl{"train", {}, {}, true}, vl{"validation", {}, {}}, va{"validation", {}, {}}, sl{"test", {}, {}},
      sa{"test", {}, {}};
  for (const recur::Evaluation& l : run.history) {
    const double x = double(l.epoch);
    tl.x.push_back(x), tl.y.push_back(l.train.loss);
    if (l.has_valid) vl.x.push_back(x), vl.y.push_back(l.valid.loss), va.x.push_back(x), va.y.push_back(l.valid.accuracy);
    if (l.has_test) sl.x.push_back(x), sl.y.push_back(l.test.loss), sa.x.push_back(x), sa.y.push_back(l.test.accuracy);
  }
  for (auto* s : {&tl, &vl, &sl})
    if (!s->x.empty()) loss.series.push_back(*s);
  for (auto* s : {&va, &sa})
    if (!s->x.empty()) acc.series.push_back(*s);
  if (run.result.has_best)
    for (Chart* c : {&loss, &acc}) c->marker_x = double(run.result.best_at), c->marker_label = "best";
  page.charts = {loss};
  if (!acc.series.empty()) page.charts.push_back(acc);
  const std::vector<recur::LabeledText>& held = !d.valid.empty() ? d.valid : !d.test.empty() ? d.test : d.train;
  const std::string held_name = !d.valid.empty() ? "validation" : !d.test.empty() ? "test" : "training";
  const recur::Seq2SeqReport r = run.model.evaluate(held, {}, held_name);
  page.summary.push_back({"sequence accuracy (" + held_name + ", greedy)", fixed("%.4f", r.sequence_accuracy)});
  page.summary.push_back({"symbol error rate (" + held_name + ", greedy)", fixed("%.4f", r.token_error_rate)});
  if (r.has_bleu) page.summary.push_back({"BLEU-4 (" + held_name + ", greedy)", fixed("%.4f", r.bleu)});
  if (run.result.has_best) page.summary.push_back({"best epoch", std::to_string(run.result.best_at)});
  page.summary.push_back({"epochs run", std::to_string(run.result.epochs_run) +
                                            (run.result.stopped_early ? " (early stop)" : "")});
  page.summary.push_back({"training time", format_duration(run.seconds)});
  if (!run.history.empty())
    page.summary.push_back({"speed", fixed("%.0f target symbols/s", run.history.back().tokens_per_s)});
  // The first outputs, beside their references.
  std::vector<std::string> sources;
  for (std::size_t i = 0; i < held.size() && sources.size() < 20; ++i) sources.push_back(held[i].text);
  const auto out = run.model.translate(sources);
  page.text_title = "Outputs (greedy) for the first " + std::to_string(sources.size()) + " " + held_name +
                    " sources: source, reference, output";
  for (std::size_t i = 0; i < sources.size(); ++i)
    page.text += sources[i] + "\t" + held[i].label + "\t" + out[i].nbest[0].text + "\n";
  page.settings = settings_of(a);
  const recur::Seq2SeqInfo& info = run.model.info();
  page.settings.push_back({"vocabularies (source / target)", std::to_string(info.src_vocab.size()) + " / " +
                                                                 std::to_string(info.tgt_vocab.size())});
  page.settings.push_back({"pairs (train / valid / test)", std::to_string(d.train.size()) + " / " +
                                                               std::to_string(d.valid.size()) + " / " +
                                                               std::to_string(d.test.size())});
  write_report(a.report, page);
}

}  // namespace

void train_seq2seq_command(const TrainArgs& a, recur::Communicator* processes) {
  if (a.train.empty()) throw recur::Error("--task seq2seq needs --train FILE (source<TAB>target per line)");
  recur::check(a.o);
  recur::Seq2SeqData d;
  d.train_name = a.train;
  d.train = load_data(a.train, a.data);
  if (!a.test.empty()) d.test_name = a.test, d.test = load_data(a.test, a.data);
  if (!a.valid.empty()) d.valid_name = a.valid, d.valid = load_data(a.valid, a.data);

  Progress progress(!a.quiet && !processes);
  JsonLog json_log(a.log_json);
  recur::TrainCallbacks cb;
  cb.on_note = [&](const std::string& what) {
    if (!a.quiet) note(what);
  };
  cb.on_step = [&](const recur::StepEvent& ev) {
    progress.update([&] { return "epoch " + std::to_string(ev.epoch) + "/" + std::to_string(ev.epochs); }, ev.step,
                    ev.steps, ev.loss, ev.tokens);
    return !interrupted();
  };
  cb.on_evaluation = [&](const recur::Evaluation& e) {
    json_log.write(recur::to_json(e));
    if (!a.quiet) {
      progress.clear();
      std::printf("epoch %ld/%ld | lr %.3g | train loss %.4f", e.epoch, e.epochs, e.lr, e.train.loss);
      if (e.has_valid)
        std::printf(" | valid loss %.4f, sequence accuracy %.4f%s", e.valid.loss, e.valid.accuracy, e.best ? " *" : "");
      if (e.has_test) std::printf(" | test loss %.4f, sequence accuracy %.4f", e.test.loss, e.test.accuracy);
      std::printf(" | %.0f target symbols/s\n", e.tokens_per_s);
      std::fflush(stdout);
    }
    return true;
  };
  const recur::TranslatorRun run = recur::Translator::train(d, a.o, cb, processes);
  progress.clear();
  if (run.result.interrupted) {
    if (!run.checkpoint.empty()) report_interrupt(run.checkpoint, run.result.epoch, run.result.position);
    if (!a.report.empty()) write_seq2seq_report(a, run);
    throw Interrupted();
  }
  const recur::TrainResult& r = run.result;
  if (!a.quiet && r.has_best)
    std::printf("Best:\tepoch %ld | valid loss %.4f | sequence accuracy %.4f (greedy)%s\n", r.best_at, r.best.loss,
                r.best.accuracy,
                r.stopped_early ? (" (stopped at epoch " + std::to_string(r.epochs_run) + ", patience " +
                                   std::to_string(a.o.patience) + ")").c_str()
                                : "");
  std::fflush(stdout);
  if (!a.o.save.empty())
    note("saved " + std::string(r.has_best ? "the best validated" : "the") + " model to " + a.o.save +
         " (recur translate, recur eval --data with --beam K)");
  if (!a.report.empty()) {
    write_seq2seq_report(a, run);
    note("wrote the report to " + a.report);
  }
}

}  // namespace recur_cli
