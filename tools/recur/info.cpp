// recur info — what a model file holds.
#include <cstdio>
#include <memory>

#include "common.hpp"

namespace recur_cli {
namespace {

void info_command(const std::string& path) {
  const recur::LoadedModel m = recur::load_model(path);
  const auto& c = m.info.config;
  const bool lm = c.task == recur::Task::lm;
  std::printf("model\t%s\n", path.c_str());
  std::printf("task\t%s\n", lm ? "lm (language model)" : "classify");
  std::printf("cell\t%s\n", recur::cell_name(c.cell).c_str());
  std::printf("layers\t%d%s\n", c.layers, c.bidirectional ? " (bidirectional)" : "");
  std::printf("hidden\t%d\n", c.hidden);
  std::printf("input\t%s\n", c.embed ? ("embedding " + std::to_string(c.embed)).c_str() : "one-hot");
  std::printf("tokenizer\t%s%s\n", recur::to_string(m.info.tokenizer).c_str(), m.info.lowercase ? " (lowercased)" : "");
  std::printf("vocabulary\t%d\n", m.info.vocab.size());
  if (!lm) {
    std::string labels;
    for (const auto& l : m.info.labels) labels += (labels.empty() ? "" : ", ") + l;
    std::printf("labels\t%zu: %s\n", m.info.labels.size(), labels.c_str());
  }
  std::size_t n = 0;
  for (const auto& p : m.model.table().specs()) n += p.size();
  std::printf("parameters\t%zu\n", n);
  for (const auto& p : m.model.table().specs())
    std::printf("  %s\t(%d%s)\n", p.name.c_str(), p.rows, p.is_vector ? "" : (", " + std::to_string(p.cols)).c_str());
}

}  // namespace

void setup_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Print a model's configuration, vocabulary size, labels and parameters.");
  cmd->add_option("--model", *path, "Model file")->required()->check(CLI::ExistingFile);
  cmd->callback([path] { info_command(*path); });
}

}  // namespace recur_cli
