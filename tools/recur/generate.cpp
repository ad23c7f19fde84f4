// recur generate — sample text from a language model, streaming to stdout.
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "recur/lm.hpp"

namespace recur_cli {
namespace {

struct GenerateArgs {
  std::string model, prime;
  long length = 500;
  double temperature = 1.0, top_p = 1.0;
  int top_k = 0;
  std::uint32_t seed = 1;
};

void generate_command(const GenerateArgs& a) {
  if (a.length < 0) throw recur::Error("--length must be >= 0");
  if (!(a.temperature >= 0)) throw recur::Error("--temperature must be >= 0 (0 = always the most likely symbol)");
  if (a.top_k < 0) throw recur::Error("--top-k must be >= 0 (0 = no limit)");
  if (!(a.top_p > 0 && a.top_p <= 1)) throw recur::Error("--top-p must be in (0, 1]");
  if (recur::find_invalid_utf8(a.prime) != std::string::npos) throw recur::Error("--prime: invalid UTF-8");
  recur::LoadedModel m = recur::load_model(a.model);
  if (m.info.config.task != recur::Task::lm)
    throw recur::Error(a.model + ": a classifier, not a language model (use recur predict)");
  const auto& info = m.info;
  const bool words = info.tokenizer != recur::TokenizerKind::chr;
  std::vector<int> prime = recur::encode_text(a.prime, info.vocab, info.tokenizer);
  if (prime.empty()) {
    const int nl = info.vocab.id("\n");
    prime.push_back(nl >= 0 ? nl : 0);
  } else {
    std::fputs(a.prime.c_str(), stdout);
  }
  recur::SampleOptions o;
  o.temperature = a.temperature;
  o.top_k = a.top_k;
  o.top_p = a.top_p;
  recur::Rng rng(a.seed);
  recur::generate(m.model, prime, a.length, o, rng, [&](int id) {
    const std::string& tok = info.vocab.token(id);
    if (words) std::fputc(' ', stdout);
    std::fwrite(tok.data(), 1, tok.size(), stdout);
    if (tok == "\n") std::fflush(stdout);  // streams line by line
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

void setup_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Write text with a language model (recur train --task lm): the prime's symbols are run\n"
      "through the model first, then each next symbol is sampled and printed as it is made.");
  cmd->add_option("--model", a->model, "Language model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--prime", a->prime, "Text to start from (printed first)");
  cmd->add_option("--length", a->length, "Symbols to generate")->capture_default_str();
  cmd->add_option("--temperature", a->temperature, "Sampling temperature; 0 = always the most likely symbol")
      ->capture_default_str();
  cmd->add_option("--top-k", a->top_k, "Sample among the K most likely symbols only (0 = all)")->capture_default_str();
  cmd->add_option("--top-p", a->top_p, "Sample among the most likely symbols whose probability adds up to P")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Random seed: the same seed gives the same text")->capture_default_str();
  cmd->callback([a] { generate_command(*a); });
}

}  // namespace recur_cli
