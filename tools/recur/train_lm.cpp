// recur train --task lm — a language model on plain text, with validation,
// keeping the best model. The library trains (recur::LanguageModel::train);
// this file reads the files, shows the run and writes its report.
#include <cmath>
#include <cstdio>

#include "common.hpp"
#include "progress.hpp"
#include "recur/language_model.hpp"
#include "report.hpp"

namespace recur_cli {
namespace {

// The HTML report of a language model's run: training and validation loss in
// bits per symbol, and a sample from the trained model.
void write_lm_report(const TrainArgs& a, const recur::LanguageModelRun& run) {
  const recur::ModelInfo& info = run.model.info();
  ReportPage page;
  page.title = "recur train --task lm: " + a.text;
  Chart bits{"Loss", "step", "bits per symbol", {}};
  Series tr{"train", {}, {}, true}, va{"validation", {}, {}};
  const recur::Evaluation* best = nullptr;
  for (const recur::Evaluation& l : run.history) {
    tr.x.push_back(double(l.step)), tr.y.push_back(l.train.bits());
    if (l.has_valid) {
      va.x.push_back(double(l.step)), va.y.push_back(l.valid.bits());
      if (l.best) best = &l;
    }
  }
  bits.series.push_back(tr);
  if (!va.x.empty()) bits.series.push_back(va);
  auto fmt = [](const char* f, double x) {
    char b[64];
    std::snprintf(b, sizeof b, f, x);
    return std::string(b);
  };
  if (best) {
    bits.marker_x = double(best->step), bits.marker_label = "best";
    page.summary.push_back({"best validation", fmt("%.4f bits", best->valid.bits())});
    page.summary.push_back({"at step", std::to_string(best->step)});
  }
  if (!run.history.empty()) {
    page.summary.push_back({"steps run", std::to_string(run.history.back().step)});
    page.summary.push_back({"speed", fmt("%.0f tokens/s", run.history.back().tokens_per_s)});
  }
  page.summary.push_back({"training time", format_duration(run.seconds)});
  page.charts = {bits};
  // A sample (temperature 0.8), so the page shows what the model writes.
  recur::SampleOptions so;
  so.temperature = 0.8;
  page.text_title = "A sample (temperature 0.8, 400 symbols, from the " +
                    std::string(best && !run.result.interrupted ? "best validated" : "final") + " weights)";
  page.text = run.model.generate("", 400, so, a.o.seed);
  page.settings = settings_of(a);
  page.settings.push_back({"vocabulary", std::to_string(info.vocab.size())});
  write_report(a.report, page);
}

}  // namespace

void train_lm_command(const TrainArgs& a, recur::Communicator* processes) {
  if (a.text.empty()) throw recur::Error("--task lm needs --text FILE");
  if (!a.valid_text.empty() && a.o.valid_fraction > 0)
    throw recur::Error("give --valid-text or --valid-fraction, not both");
  recur::check(a.o);
  recur::LanguageModelData d;
  // Read in pieces, the ids kept on disk: memory does not grow with the text.
  d.text_file = d.text_name = a.text;
  if (!a.valid_text.empty()) d.valid_file = d.valid_name = a.valid_text;

  // No bar under mpirun: it gives every process a terminal, also when its
  // output goes to a file, and the log lines say how the run goes.
  Progress progress(!a.quiet && !processes);
  JsonLog json_log(a.log_json);
  recur::TrainCallbacks cb;
  cb.on_start = [&](const recur::RunStart& s) {
    if (!a.quiet)
      std::printf("%ld training tokens, %ld validation tokens, vocabulary %d (%s)\n", s.train, s.valid,
                  s.info->vocab.size(), recur::to_string(s.info->tokenizer).c_str());
  };
  cb.on_note = note;
  cb.on_step = [&](const recur::StepEvent& ev) {
    progress.update([&] { return "step " + std::to_string(ev.step) + "/" + std::to_string(ev.steps); }, ev.step,
                    ev.steps, ev.loss, ev.tokens);
    return !interrupted();
  };
  cb.on_evaluation = [&](const recur::Evaluation& e) {
    json_log.write(recur::to_json(e));
    if (!a.quiet) {
      progress.clear();
      std::printf("step %ld/%ld | lr %.3g | train loss %.4f", e.step, e.steps, e.lr, e.train.loss);
      if (e.has_valid)
        std::printf(" | valid loss %.4f nats, %.4f bits%s", e.valid.loss, e.valid.bits(), e.best ? " *" : "");
      std::printf(" | %.0f tokens/s\n", e.tokens_per_s);
      std::fflush(stdout);
    }
    return true;
  };
  const recur::LanguageModelRun run = recur::LanguageModel::train(d, a.o, cb, processes);
  progress.clear();
  if (run.result.interrupted && !run.checkpoint.empty())
    report_interrupt(run.checkpoint, run.result.steps_run, a.o.steps);
  if (!a.report.empty()) {  // (also after Ctrl-C: the curves so far)
    write_lm_report(a, run);
    if (!run.result.interrupted) note("wrote the report to " + a.report);
  }
  if (run.result.interrupted) throw Interrupted();
  if (!a.o.save.empty())
    note("saved " + std::string(run.result.has_best ? "the best validated" : "the") + " model to " + a.o.save);
}

}  // namespace recur_cli
