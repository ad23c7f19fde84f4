// Shared pieces of the recur command-line tool: flags that several commands
// take, reading their files, and the tool's own output helpers. Everything the
// tool computes, it asks the library for.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "recur/communicator.hpp"
#include "recur/data.hpp"
#include "recur/error.hpp"
#include "recur/options.hpp"
#include "recur/translator.hpp"

namespace recur_cli {

void setup_train(CLI::App& app);
void setup_predict(CLI::App& app);
void setup_eval(CLI::App& app);
void setup_generate(CLI::App& app);
void setup_info(CLI::App& app);
void setup_cv(CLI::App& app);
void setup_serve(CLI::App& app);
void setup_translate(CLI::App& app);

// The flags that say how to read a labelled data file (train, cv and eval).
void add_data_flags(CLI::App* cmd, recur::DataOptions& f);
// Loads a labelled file; skipped records (--skip-bad) are counted on stderr.
std::vector<recur::LabeledText> load_data(const std::string& path, const recur::DataOptions& f);

// --model FILE, required, and allowed more than once (one file each time).
void add_model_files(CLI::App* cmd, std::vector<std::string>& files, const std::string& help);

// --threads N for reading texts side by side: `threads` starts as the cores
// (at most 8); `what` says what each thread takes.
void add_threads_flag(CLI::App* cmd, int& threads, const std::string& what);

// Sequence-to-sequence models (translate, eval): each file checked to be one,
// and the second on checked to write the first's target symbols (an ensemble);
// errors name the file.
std::vector<recur::Translator> load_translators(const std::vector<std::string>& paths);

// --log-json FILE: one JSON object per line, one line per evaluation, flushed as
// it is written so a run can be followed (or plotted) while it trains.
class JsonLog {
 public:
  explicit JsonLog(const std::string& path);  // empty path: a log that writes nothing
  ~JsonLog();
  void write(const std::string& json_object);

 private:
  std::FILE* f_ = nullptr;
};

// "recur: <what>" on stderr (rank 0 of a data-parallel run only: the others
// would say the same).
void note(const std::string& what);

// Line `line_no` of stdin into `line` (without its line end); false at the end.
// A line longer than max_bytes (0: no limit) is an error naming "<stdin>:N".
bool read_stdin_line(std::string& line, long line_no, std::size_t max_bytes);

// The flags of `recur train` and `recur cv`: the library's options and the
// tool's own (files, output).
struct TrainArgs {
  recur::TrainOptions o;
  std::string train, test, valid;  // classify: files
  recur::DataOptions data;
  std::string text, valid_text;    // lm: files
  int folds = 10;                  // cv
  std::string folds_out, cv_format = "text";
  bool quiet = false;
  std::string log_json, report;
  double mpi_timeout = 120;        // seconds a collective waits for the other processes
};
// The flags of recur train; for recur cv (`cv`) those that make sense there,
// with the data file as --data.
void add_train_flags(CLI::App* cmd, TrainArgs& a, bool cv = false);
// The flags given on the command line, as the library names them ("clip-norm").
std::set<std::string> given_flags(const CLI::App& cmd);
// The flags as "--flag value" pairs, for a report's settings table.
std::vector<std::pair<std::string, std::string>> settings_of(const TrainArgs& a);

// Checkpoints and Ctrl-C. SIGINT/SIGTERM set a flag; training stops after the
// step in progress (the library writes a checkpoint first), and the command
// exits with Interrupted (status 130).
struct Interrupted {};
void install_interrupt_handlers();
bool interrupted();
void report_interrupt(const std::string& ckpt, long epoch_or_step, long position);

// Under `mpirun -np N` (N > 1): the MPI world, every collective bounded by
// --mpi-timeout; null for one process. Throws when this recur has no MPI.
recur::Communicator* train_processes(const TrainArgs& a);

void train_classify_command(const TrainArgs& a, recur::Communicator* processes);
void train_seq2seq_command(const TrainArgs& a, recur::Communicator* processes);
void train_lm_command(const TrainArgs& a, recur::Communicator* processes);

}  // namespace recur_cli
