// recur train --task lm — a language model on plain text, with validation,
// keeping the best model.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <type_traits>

#include "common.hpp"
#include "progress.hpp"
#include "report.hpp"

#include <nlohmann/json.hpp>
#include "recur/lm.hpp"
#include "train_args.hpp"

namespace recur_cli {
namespace {

// Cuts text at the start of the UTF-8 code point at or after `at`.
std::size_t code_point_boundary(const std::string& text, std::size_t at) {
  while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
  return at;
}

// The HTML report of a language model's run: training and validation loss in
// bits per symbol, and a sample from the final model.
template <class T>
void write_lm_report(const TrainArgs& a, const recur::ModelInfo& info, const std::vector<recur::LmLog>& history,
                     double seconds, const recur::Model<T>& trained) {
  ReportPage page;
  page.title = "recur train --task lm: " + a.text;
  Chart bits{"Loss", "step", "bits per symbol", {}};
  Series tr{"train", {}, {}, true}, va{"validation", {}, {}};
  const recur::LmLog* best = nullptr;
  for (const recur::LmLog& l : history) {
    tr.x.push_back(double(l.step)), tr.y.push_back(l.train_loss / std::log(2.0));
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
  if (!history.empty()) {
    page.summary.push_back({"steps run", std::to_string(history.back().step)});
    page.summary.push_back({"speed", fmt("%.0f tokens/s", history.back().tokens_per_s)});
  }
  page.summary.push_back({"training time", format_duration(seconds)});
  page.charts = {bits};
  // A sample from the final weights (temperature 0.8), so the page shows what the model writes.
  recur::Model<float> m(info.config);
  std::copy(trained.weights().begin(), trained.weights().end(), m.weights().begin());
  const int nl = info.vocab.id("\n");
  recur::SampleOptions so;
  so.temperature = 0.8;
  recur::Rng rng(a.seed);
  std::string sample;
  recur::generate(m, {nl >= 0 ? nl : 0}, 400, so, rng, [&](int id) {
    if (info.tokenizer != recur::TokenizerKind::chr) sample += ' ';
    sample += info.vocab.token(id);
  });
  page.text_title = "A sample (temperature 0.8, 400 symbols, from the final weights)";
  page.text = sample;
  page.settings = settings_of(a);
  page.settings.push_back({"vocabulary", std::to_string(info.vocab.size())});
  write_report(a.report, page);
}

template <class T>
void run_lm(const TrainArgs& a, const recur::ModelInfo& info, const std::vector<int>& train,
            const std::vector<int>* valid) {
  recur::Model<T> model(info.config);
  recur::Rng rng(a.seed);
  recur::init_weights(model, recur::init_from_string(a.init), rng, a.forget_bias);
  recur::LmOptions opt;
  opt.steps = a.steps;
  opt.batch = a.batch;
  opt.seq_len = a.seq_len;
  opt.step = step_options(a);
  opt.eval_every = a.eval_every;
  opt.patience = a.patience;
  opt.plateau_decay = a.plateau_decay;
  recur::Optimizer<T> optimizer(opt.step.optimizer, model.weights().size());

  // Checkpoints (float32 runs): periodic, at the end, and on Ctrl-C.
  recur::LmHooks<T> hooks;
  Progress progress(!a.quiet);
  std::vector<recur::LmLog> history;
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<recur::LoadedCheckpoint> ck;
  const std::string ckpt = checkpoint_path(a);
  if constexpr (std::is_same_v<T, float>) {
    if (!a.resume.empty()) {
      ck = resume_run(a.resume, info, model, optimizer);
      hooks.resume = &ck->state.lm;
      std::fprintf(stderr, "recur: resuming %s after step %ld\n", a.resume.c_str(), ck->state.lm.steps);
    }
    hooks.after_step = [&](long step, double loss, const std::function<recur::LmPoint<T>()>& at) {
      progress.update([&] { return "step " + std::to_string(step) + "/" + std::to_string(a.steps); }, step, a.steps,
                      loss, long(a.batch) * a.seq_len);
      const bool stop = interrupted();
      const bool asked = !a.save.empty() || !a.checkpoint.empty();  // else only on Ctrl-C
      const long every = a.checkpoint_every > 0 ? a.checkpoint_every : a.eval_every;
      if (stop || (asked && (step % every == 0 || step == a.steps))) {
        recur::TrainingState state;
        state.lm = at();
        recur::save_checkpoint(ckpt, model, info, optimizer, state);
      }
      if (stop) {
        progress.clear();
        report_interrupt(ckpt, step, a.steps);
      }
      return !stop;
    };
  } else if (!a.resume.empty() || !a.checkpoint.empty()) {
    throw recur::Error("--dtype f64 runs do not checkpoint or resume");
  }
  JsonLog json_log(a.log_json);
  recur::train_lm<T>(model, optimizer, train, valid, opt, rng, [&](const recur::LmLog& log) {
    history.push_back(log);
    nlohmann::ordered_json j;
    j["step"] = log.step;
    j["lr"] = log.lr;
    j["train_loss"] = log.train_loss;
    if (log.has_valid) {
      j["valid_loss"] = log.valid.loss;
      j["valid_bits"] = log.valid.bits();
      j["best"] = log.best;
    }
    j["tokens_per_s"] = log.tokens_per_s;
    json_log.write(j.dump());
    if (!a.quiet) {
      progress.clear();
      std::printf("step %ld/%ld | lr %.3g | train loss %.4f", log.step, log.steps, log.lr, log.train_loss);
      if (log.has_valid)
        std::printf(" | valid loss %.4f nats, %.4f bits%s", log.valid.loss, log.valid.bits(), log.best ? " *" : "");
      std::printf(" | %.0f tokens/s\n", log.tokens_per_s);
      std::fflush(stdout);
    }
    if (!a.save.empty() && log.best) recur::save_model(a.save, model, info);  // the best model is the one kept
    return true;
  }, hooks);
  progress.clear();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.report.empty()) {  // (also after Ctrl-C: the curves so far)
    write_lm_report(a, info, history, seconds, model);
    if (!interrupted()) std::fprintf(stderr, "recur: wrote the report to %s\n", a.report.c_str());
  }
  if (interrupted()) throw Interrupted();
  if (!a.save.empty()) {
    if (!valid) recur::save_model(a.save, model, info);
    std::fprintf(stderr, "recur: saved %s model to %s\n", valid ? "the best validated" : "the", a.save.c_str());
  }
}

}  // namespace

void train_lm_command(const TrainArgs& a) {
  check_common(a);
  if (a.text.empty()) throw recur::Error("--task lm needs --text FILE");
  if (a.bidirectional) throw recur::Error("--bidirectional: a language model reads left to right");
  if (a.steps < 1) throw recur::Error("--steps must be at least 1");
  if (a.seq_len < 1) throw recur::Error("--seq-len must be at least 1");
  if (!(a.valid_fraction >= 0 && a.valid_fraction < 1)) throw recur::Error("--valid-fraction must be in [0, 1)");
  if (!a.valid_text.empty() && a.valid_fraction > 0) throw recur::Error("give --valid-text or --valid-fraction, not both");

  std::string text = recur::read_text_file(a.text), valid_text;
  if (!a.valid_text.empty()) {
    valid_text = recur::read_text_file(a.valid_text);
  } else if (a.valid_fraction > 0) {
    const std::size_t cut = code_point_boundary(text, std::size_t(double(text.size()) * (1 - a.valid_fraction)));
    valid_text = text.substr(cut);
    text.resize(cut);
  }
  recur::ModelInfo info;
  info.tokenizer = recur::tokenizer_from_string(a.tokenizer);
  info.lowercase = a.lowercase;
  text = normalize(text, info);
  valid_text = normalize(valid_text, info);
  info.vocab = recur::build_lm_vocab(text, info.tokenizer);
  auto& c = info.config;
  c.task = recur::Task::lm;
  c.cell = recur::cell_from_name(a.cell);
  c.vocab = c.classes = info.vocab.size();
  c.hidden = a.hidden;
  c.layers = a.layers;
  c.embed = a.embed;
  c.dropout = a.dropout;
  c.bias_hh = a.bias_hh;

  const std::vector<int> train = recur::encode_text(text, info.vocab, info.tokenizer);
  long unknown = 0;
  const std::vector<int> valid = recur::encode_text(valid_text, info.vocab, info.tokenizer, &unknown);
  if (!valid_text.empty() && valid.size() < 2) throw recur::Error("the validation text has fewer than 2 tokens");
  if (unknown)
    std::fprintf(stderr, "recur: %ld validation tokens not in the training vocabulary (mapped to %s)\n", unknown,
                 recur::kUnknownToken.c_str());
  if (!a.quiet)
    std::printf("%zu training tokens, %zu validation tokens, vocabulary %d (%s)\n", train.size(), valid.size(),
                info.vocab.size(), a.tokenizer.c_str());
  const std::vector<int>* v = valid.empty() ? nullptr : &valid;
  if (a.dtype == "f64")
    run_lm<double>(a, info, train, v);
  else
    run_lm<float>(a, info, train, v);
}

}  // namespace recur_cli
