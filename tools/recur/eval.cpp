// recur eval — a trained classifier's loss and accuracy on labelled data.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.hpp"

namespace recur_cli {
namespace {

struct EvalArgs {
  std::string model, data, format = "text";
};

void eval_command(const EvalArgs& a) {
  recur::LoadedClassifier m = recur::load_classifier(a.model);
  auto rows = recur::load_tsv(a.data);
  for (auto& r : rows) r.text = normalize(r.text, m.info);
  const recur::EncodedSet set = recur::encode_set(rows, m.info.vocab, m.info.tokenizer, m.info.labels, a.data);
  const Report r = report(m.model, set, m.info.config.classes);
  if (a.format == "json") {
    nlohmann::ordered_json j;
    j["n"] = r.metrics.n;
    j["loss"] = r.metrics.loss;
    j["accuracy"] = r.metrics.accuracy;
    j["macro_f1"] = r.macro_f1;
    j["unknown_words"] = set.n_unknown;
    j["labels"] = m.info.labels;
    j["confusion"] = r.confusion;
    std::cout << j.dump() << '\n';
  } else {
    std::printf("n\t%ld\nloss\t%.4f\naccuracy\t%.4f\nmacro_f1\t%.4f\n", r.metrics.n, r.metrics.loss,
                r.metrics.accuracy, r.macro_f1);
  }
  if (set.n_unknown)
    std::fprintf(stderr, "recur: %s: %ld words not in the model's vocabulary (each given a zero input vector)\n",
                 a.data.c_str(), set.n_unknown);
}

}  // namespace

void setup_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a trained classifier on labelled TSV data (text<TAB>label): number of\n"
      "examples, mean cross-entropy loss (nats), accuracy and macro-F1.");
  cmd->add_option("--model", a->model, "Model file written by recur train --save")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data", a->data, "Labelled data, TSV")->required()->check(CLI::ExistingFile);
  cmd->add_option("--format", a->format, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->callback([a] { eval_command(*a); });
}

}  // namespace recur_cli
