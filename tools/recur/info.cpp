// recur info — what a model file holds.
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "recur/classifier.hpp"
#include "recur/language_model.hpp"

namespace recur_cli {
namespace {

void info_command(const std::string& path) {
  const bool lm = recur::model_task(path) == "lm";
  const recur::ModelInfo info = lm ? recur::LanguageModel::load(path).info() : recur::Classifier::load(path).info();
  const auto& c = info.config;
  std::printf("model\t%s\n", path.c_str());
  std::printf("task\t%s\n", lm ? "lm (language model)" : "classify");
  std::printf("cell\t%s\n", recur::cell_name(c.cell).c_str());
  std::printf("layers\t%d%s\n", c.layers, c.bidirectional ? " (bidirectional)" : "");
  std::printf("hidden\t%d\n", c.hidden);
  std::printf("input\t%s\n", c.embed ? ("embedding " + std::to_string(c.embed)).c_str() : "one-hot");
  std::printf("tokenizer\t%s%s\n", recur::to_string(info.tokenizer).c_str(), info.lowercase() ? " (lowercased)" : "");
  std::printf("vocabulary\t%d\n", info.vocab.size());
  if (!lm) {
    std::string labels;
    for (const auto& l : info.labels) labels += (labels.empty() ? "" : ", ") + l;
    std::printf("labels\t%zu: %s\n", info.labels.size(), labels.c_str());
  }
  const std::vector<recur::TensorShape> shapes = recur::parameter_shapes(c);
  long n = 0;
  for (const auto& p : shapes) n += p.shape.size() == 1 ? p.shape[0] : p.shape[0] * p.shape[1];
  std::printf("parameters\t%ld\n", n);
  for (const auto& p : shapes)
    std::printf("  %s\t(%ld%s)\n", p.name.c_str(), p.shape[0],
                p.shape.size() == 1 ? "" : (", " + std::to_string(p.shape[1])).c_str());
}

}  // namespace

void setup_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Print a model's configuration, vocabulary size, labels and parameters.");
  cmd->add_option("--model", *path, "Model file")->required()->check(CLI::ExistingFile);
  cmd->callback([path] { info_command(*path); });
}

}  // namespace recur_cli
