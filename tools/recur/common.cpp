#include "common.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <thread>

#include "recur/language_model.hpp"
#include "recur/mpi.hpp"

namespace recur_cli {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }
}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Past a file size limit (ulimit -f) a write then fails with EFBIG, which
  // the library reports as one line, instead of the signal killing the run.
  std::signal(SIGXFSZ, SIG_IGN);
}

bool interrupted() { return g_interrupted != 0; }

void report_interrupt(const std::string& ckpt, long epoch_or_step, long position) {
  if (recur::launched_rank() > 0) return;
  std::fprintf(stderr, "recur: interrupted at %ld/%ld; checkpoint written to %s (continue with --resume %s)\n",
               epoch_or_step, position, ckpt.c_str(), ckpt.c_str());
}

bool read_stdin_line(std::string& line, long line_no, std::size_t max_bytes) {
  try {
    return recur::read_line(std::cin, line, max_bytes);
  } catch (const recur::Error& e) {
    throw recur::Error("<stdin>:" + std::to_string(line_no) + ": " + e.what());
  }
}

void note(const std::string& what) {
  if (recur::launched_rank() > 0) return;
  std::fprintf(stderr, "recur: %s\n", what.c_str());
}

recur::Communicator* train_processes(const TrainArgs& a) {
  if (!(a.mpi_timeout > 0)) throw recur::Error("--mpi-timeout must be positive");
  const int n = recur::launched_ranks();
  if (n == 1) return nullptr;
  if (!recur::mpi_built())
    throw recur::Error("this recur was built without MPI (RECUR_MPI=OFF), so the " + std::to_string(n) +
                       " processes mpirun started would each train a model of their own: install libopenmpi-dev "
                       "(scripts/install-deps.sh) and rebuild, or run recur train without mpirun");
  return &recur::mpi_world(a.mpi_timeout, interrupted);
}

void add_data_flags(CLI::App* cmd, recur::DataOptions& f) {
  cmd->add_option("--data-format", f.format, "Data format: tsv (text<TAB>label), csv, jsonl (default: by extension)")
      ->check(CLI::IsMember({"tsv", "csv", "jsonl"}));
  cmd->add_option("--text-col", f.load.text_col, "csv: text column name or 0-based index; jsonl: text field")
      ->capture_default_str();
  cmd->add_option("--label-col", f.load.label_col, "csv: label column name or 0-based index; jsonl: label field")
      ->capture_default_str();
  cmd->add_flag("--header", f.load.header, "csv with column indices: the first row is a header");
  cmd->add_flag("--skip-bad", f.load.skip_bad, "Skip malformed records (counted on stderr) instead of stopping");
  cmd->add_option("--max-line-bytes", f.load.max_line_bytes,
                  "A line (CSV: a record) longer than this is an error naming it (0 = no limit)")
      ->capture_default_str();
}

std::vector<recur::LabeledText> load_data(const std::string& path, const recur::DataOptions& f) {
  recur::LoadReport report;
  auto rows = recur::load_labeled(path, f, &report);
  if (report.skipped)
    note(path + ": skipped " + std::to_string(report.skipped) + " malformed records (the first: " +
         report.first_error + ")");
  return rows;
}

JsonLog::JsonLog(const std::string& path) {
  if (path.empty()) return;
  f_ = std::fopen(path.c_str(), "w");
  if (!f_) throw recur::Error(path + ": cannot write the JSON log");
}

JsonLog::~JsonLog() {
  if (f_) std::fclose(f_);
}

void JsonLog::write(const std::string& json_object) {
  if (!f_) return;
  std::fputs(json_object.c_str(), f_);
  std::fputc('\n', f_);
  std::fflush(f_);
}

void add_model_files(CLI::App* cmd, std::vector<std::string>& files, const std::string& help) {
  cmd->add_option("--model", files, help)->required()->allow_extra_args(false)->check(CLI::ExistingFile);
}

void add_threads_flag(CLI::App* cmd, int& threads, const std::string& what) {
  threads = int(std::max(1u, std::min(8u, std::thread::hardware_concurrency())));
  cmd->add_option("--threads", threads, "Threads that read " + what + " side by side (default: the cores, at most 8)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
}

std::vector<recur::Translator> load_translators(const std::vector<std::string>& paths) {
  std::vector<recur::Translator> models;
  for (const std::string& path : paths) {
    const std::string task = recur::model_task(path);
    if (task != "seq2seq")
      throw recur::Error(path + ": a " + (task == "lm" ? std::string("language model") : "classifier") +
                         ", not a sequence-to-sequence model (recur train --task seq2seq)");
    models.push_back(recur::Translator::load(path));
    if (models.size() > 1) try {
        recur::translate({&models.front(), &models.back()}, {});  // checks that they write the same symbols
      } catch (const recur::Error& e) {
        throw recur::Error(path + ": " + e.what() + " (" + paths.front() + ")");
      }
  }
  return models;
}

}  // namespace recur_cli
