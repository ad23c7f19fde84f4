// recur's Python module (`recur._recur`, re-exported by python/recur/__init__.py):
// the application API — recur/classifier.hpp, recur/language_model.hpp,
// recur/translator.hpp — with Python values and numpy arrays in and out.
//
// A front door like the command line: it checks and converts arguments, calls
// the library and converts the results. It never normalizes, tokenizes,
// batches, scores or trains itself, so its answers are the CLI's for the same
// model file and input. The GIL is released while the library works (loading,
// saving, training, predicting, evaluating, generating); training callbacks
// take it back for Python's callback, logging and Ctrl-C.
//
// Errors: recur::Error -> recur.Error (a ValueError) with the library's one-line
// message; a file that does not exist -> recur.MissingFileError (also a
// FileNotFoundError); wrong Python types -> TypeError; Ctrl-C while training ->
// recur.Interrupted (a KeyboardInterrupt), after the checkpoint is written.
#include <pybind11/numpy.h>
#include <pybind11/eval.h>
#include <pybind11/pybind11.h>
#include <sched.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "recur/classifier.hpp"
#include "recur/language_model.hpp"
#include "recur/safetensors.hpp"
#include "recur/tensor.hpp"
#include "recur/translator.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

// ---- errors ------------------------------------------------------------------------

PyObject* g_error = nullptr;        // recur.Error(ValueError)
PyObject* g_missing = nullptr;      // recur.MissingFileError(FileNotFoundError, recur.Error)
PyObject* g_interrupted = nullptr;  // recur.Interrupted(KeyboardInterrupt)

// A library error about a path that does not exist.
struct MissingFile {
  std::string message, path;
};

// Runs f(); a recur::Error raised while one of `paths` does not exist becomes
// MissingFile (the library's message, the path that is missing).
template <class F>
auto about_files(const std::vector<std::string>& paths, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const recur::Error& e) {
    std::error_code ec;
    for (const std::string& p : paths)
      if (!p.empty() && !std::filesystem::exists(p, ec)) throw MissingFile{e.what(), p};
    throw;
  }
}

std::string type_name(py::handle o) { return Py_TYPE(o.ptr())->tp_name; }

[[noreturn]] void type_error(const std::string& what) { throw py::type_error(what); }
[[noreturn]] void value_error(const std::string& what) { throw py::value_error(what); }

// ---- arguments -----------------------------------------------------------------------

std::string str_arg(py::handle o, const std::string& name) {
  if (!PyUnicode_Check(o.ptr())) type_error(name + " must be a str, not " + type_name(o));
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(o.ptr(), &n);
  if (!s) throw py::error_already_set();  // (lone surrogates: a UnicodeEncodeError)
  return std::string(s, std::size_t(n));
}

// A path: str or os.PathLike.
std::string path_arg(py::handle o, const std::string& name) {
  if (PyUnicode_Check(o.ptr())) return str_arg(o, name);
  if (PyObject_HasAttrString(o.ptr(), "__fspath__")) {
    py::object p = py::module_::import("os").attr("fspath")(o);
    if (PyUnicode_Check(p.ptr())) return str_arg(p, name);
  }
  type_error(name + " must be a path (str or os.PathLike), not " + type_name(o));
}

// A list (any iterable) of str: texts, labels. One text alone is a mistake
// worth naming (iterating it would read each character as a text).
std::vector<std::string> strings_arg(py::handle o, const std::string& name) {
  if (PyUnicode_Check(o.ptr()) || PyBytes_Check(o.ptr()))
    type_error(name + " must be a list of strings, not a single " + type_name(o) + " (for one text, pass [text])");
  const std::string not_iterable = name + " must be a list of strings, not " + type_name(o);
  py::object seq = py::reinterpret_steal<py::object>(PySequence_Fast(o.ptr(), not_iterable.c_str()));
  if (!seq) throw py::error_already_set();
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  std::vector<std::string> out;
  out.reserve(std::size_t(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (!PyUnicode_Check(items[i]))
      type_error(name + "[" + std::to_string(i) + "] is " + type_name(items[i]) + ", not str");
    Py_ssize_t len = 0;
    const char* s = PyUnicode_AsUTF8AndSize(items[i], &len);
    if (!s) throw py::error_already_set();
    out.emplace_back(s, std::size_t(len));
  }
  return out;
}

bool is_bool(py::handle o) {
  return PyBool_Check(o.ptr()) || std::string(Py_TYPE(o.ptr())->tp_name) == "numpy.bool_";
}

bool bool_arg(py::handle o, const std::string& name) {
  if (!is_bool(o)) type_error(name + " must be a bool, not " + type_name(o));
  return PyObject_IsTrue(o.ptr()) == 1;
}

double float_arg(py::handle o, const std::string& name) {
  if (is_bool(o) || PyUnicode_Check(o.ptr()) || !(PyFloat_Check(o.ptr()) || PyIndex_Check(o.ptr()) ||
                                                   PyObject_HasAttrString(o.ptr(), "__float__")))
    type_error(name + " must be a number, not " + type_name(o));
  const double v = PyFloat_AsDouble(o.ptr());
  if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return v;
}

// An integer (int or a numpy integer) in [lo, hi].
long long int_arg(py::handle o, const std::string& name, long long lo, long long hi) {
  if (is_bool(o) || !PyIndex_Check(o.ptr())) type_error(name + " must be an int, not " + type_name(o));
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(o.ptr()));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow || v < lo || v > hi)
    value_error(name + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], not " +
                py::str(i).cast<std::string>());
  return v;
}

std::uint32_t seed_arg(py::handle o) { return std::uint32_t(int_arg(o, "seed", 0, UINT32_MAX)); }

int available_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

// valid=(a, b), test=(a, b): the tuple's two items; `what` names them in the message.
std::pair<py::handle, py::handle> two_of(py::handle o, const std::string& name, const std::string& what) {
  if (!PyTuple_Check(o.ptr()) || PyTuple_GET_SIZE(o.ptr()) != 2)
    type_error(name + " must be a pair " + what + ", not " + type_name(o));
  return {PyTuple_GET_ITEM(o.ptr(), 0), PyTuple_GET_ITEM(o.ptr(), 1)};
}

// threads=None: every core this process may run on (answers do not depend on it).
int threads_arg(py::handle o) {
  if (o.is_none()) return available_cpus();
  return int(int_arg(o, "threads", 1, 1024));
}

// ---- values out ---------------------------------------------------------------------

py::object json_loads(const std::string& s) { return py::module_::import("json").attr("loads")(s); }

py::array_t<float> float_array(const std::vector<float>& data, std::vector<py::ssize_t> shape) {
  py::array_t<float> a(shape);
  if (!data.empty()) std::copy(data.begin(), data.end(), a.mutable_data());
  return a;
}

py::array_t<double> double_array(const std::vector<double>& data) {
  py::array_t<double> a(py::ssize_t(data.size()));
  std::copy(data.begin(), data.end(), a.mutable_data());
  return a;
}

py::list string_list(const std::vector<std::string>& v) {
  py::list l(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) l[i] = py::str(v[i]);
  return l;
}

// A model file's metadata as Python values (model.config): sizes as int, flags
// as bool, the vocabulary and labels as lists; keys this module does not know
// stay str (docs/model-format.md).
py::dict config_of(const std::map<std::string, std::string>& meta) {
  static const std::set<std::string> ints = {"num_layers", "hidden_size", "encoder_num_layers", "encoder_hidden_size",
                                             "encoder_embed", "decoder_num_layers", "decoder_hidden_size",
                                             "decoder_embed", "members"},
                                      bools = {"bidirectional", "lowercase", "encoder_bidirectional", "input_feeding"},
                                      lists = {"vocab", "labels", "src_vocab", "tgt_vocab"};
  py::dict d;
  for (const auto& [k, v] : meta) {
    if (ints.count(k))
      d[py::str(k)] = py::int_(std::stol(v));
    else if (bools.count(k))
      d[py::str(k)] = py::bool_(v == "true");
    else if (lists.count(k))
      d[py::str(k)] = json_loads(v);
    else
      d[py::str(k)] = py::str(v);
  }
  return d;
}

// The tensors under PyTorch's names, in the order PyTorch's modules list them.
py::dict state_dict_of(const recur::SafeTensors& st, const recur::ModelConfig& config) {
  py::dict d;
  for (const recur::TensorShape& s : recur::parameter_shapes(config)) {
    const auto it = st.tensors.find(s.name);
    if (it == st.tensors.end()) continue;
    d[py::str(s.name)] = float_array(it->second.data, std::vector<py::ssize_t>(it->second.shape.begin(), it->second.shape.end()));
  }
  return d;
}

// h (T, units, H), c (T, units, H), gates (T, units, G, H): numpy arrays, as asked.
py::object hidden_states_out(const recur::HiddenStates& s, const std::string& cell, bool return_cell, bool return_gates) {
  const py::ssize_t T = s.steps, U = s.units, H = s.hidden;
  py::object h = float_array(s.h, {T, U, H});
  if (!return_cell && !return_gates) return h;
  py::list out;
  out.append(h);
  if (return_cell) {
    if (cell != "lstm") value_error("return_cell: only an LSTM has cell states (this model is " + cell + ")");
    out.append(float_array(s.c, {T, U, H}));
  }
  if (return_gates) {
    if (s.gates <= 1) value_error("return_gates: a vanilla RNN has no gates");
    out.append(float_array(s.gate_values, {T, U, py::ssize_t(s.gates), H}));
  }
  return py::tuple(out);
}

// ---- models ---------------------------------------------------------------------------

// A loaded or trained model, shared with the streams reading from it. `history`
// and `training` describe the run that made it (empty for a loaded model).
template <class M>
struct Handle {
  std::shared_ptr<const M> m;
  py::list history;
  py::object training = py::none();
  std::optional<std::map<std::string, std::string>> metadata;  // the model file's, kept once asked for
  std::optional<py::list> vocab_cache;

  explicit Handle(M&& model) : m(std::make_shared<const M>(std::move(model))) {}

  py::dict config() {  // made anew each time: changing it does not change the model
    if (!metadata) metadata = m->to_safetensors().metadata;
    return config_of(*metadata);
  }
  py::list vocab() {
    if (!vocab_cache) vocab_cache = string_list(m->info().vocab.tokens());
    return py::list(py::reinterpret_steal<py::object>(PySequence_List(vocab_cache->ptr())));
  }
  void save(py::handle path_obj) const {
    const std::string path = path_arg(path_obj, "path");
    py::gil_scoped_release unlocked;
    m->save(path);
  }
  py::bytes to_bytes() const {
    std::string b;
    {
      py::gil_scoped_release unlocked;
      b = recur::encode_safetensors(m->to_safetensors());
    }
    return py::bytes(b);
  }
  py::dict state_dict() const { return state_dict_of(m->to_safetensors(), m->info().config); }
  std::string describe(const char* kind) const {
    const recur::ModelConfig& c = m->info().config;
    std::string s = std::string("<recur.") + kind + " " + recur::cell_name(c.cell) + " " + std::to_string(c.layers) + "x" +
                    std::to_string(c.hidden) + (c.bidirectional ? " bidirectional" : "") +
                    (c.embed ? ", embedding " + std::to_string(c.embed) : ", one-hot input") + ", vocabulary " +
                    std::to_string(c.vocab) + " (" + recur::to_string(m->info().tokenizer) + ")";
    const auto& labels = m->info().labels;
    if (!labels.empty()) {
      s += ", labels ";
      for (std::size_t i = 0; i < labels.size() && i < 8; ++i) s += (i ? ", " : "") + labels[i];
      if (labels.size() > 8) s += ", ...";
    }
    return s + ">";
  }
};
using ClassifierHandle = Handle<recur::Classifier>;
using LmHandle = Handle<recur::LanguageModel>;

// Generation one piece at a time; keeps its model alive.
struct Stream {
  std::shared_ptr<const recur::LanguageModel> lm;
  recur::LanguageModel::Generation g;
  long left;  // pieces still to come; -1: no end
};

recur::SampleOptions sample_args(py::handle temperature, py::handle top_k, py::handle top_p) {
  recur::SampleOptions o;
  o.temperature = float_arg(temperature, "temperature");
  o.top_k = int(int_arg(top_k, "top_k", 0, INT_MAX));
  o.top_p = float_arg(top_p, "top_p");
  return o;
}

std::vector<recur::LabeledText> labeled_arg(py::handle texts_obj, py::handle labels_obj, const std::string& texts_name,
                                            const std::string& labels_name) {
  const std::vector<std::string> texts = strings_arg(texts_obj, texts_name);
  const std::vector<std::string> labels = strings_arg(labels_obj, labels_name);
  if (texts.size() != labels.size())
    value_error(texts_name + " and " + labels_name + " differ in length: " + std::to_string(texts.size()) + " texts, " +
                std::to_string(labels.size()) + " labels");
  std::vector<recur::LabeledText> rows(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    // (the library's messages say name:line; here the line is the list index)
    if (labels[i].empty()) throw recur::file_error(labels_name, long(i), "empty label");
    rows[i] = {texts[i], labels[i], long(i)};
  }
  return rows;
}

// ---- training -------------------------------------------------------------------------

using recur::TrainOptions;
using Field = std::variant<std::string TrainOptions::*, bool TrainOptions::*, int TrainOptions::*, long TrainOptions::*,
                           double TrainOptions::*, std::uint32_t TrainOptions::*>;
struct OptionSpec {
  const char* name;  // Python's name: the flag with underscores (clip_norm is --clip-norm)
  Field field;
  bool path = false;
  bool seq2seq_only = false;  // train_seq2seq's alone
};

// Every option of `recur train` (TrainOptions), by the name Python gives it. The
// task is the function's (train_classifier, train_lm).
const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> specs = {
      {"preset", &TrainOptions::preset},
      {"tokenizer", &TrainOptions::tokenizer},
      {"lowercase", &TrainOptions::lowercase},
      {"min_count", &TrainOptions::min_count},
      {"max_vocab", &TrainOptions::max_vocab},
      {"cell", &TrainOptions::cell},
      {"layers", &TrainOptions::layers},
      {"hidden", &TrainOptions::hidden},
      {"embed", &TrainOptions::embed},
      {"bidirectional", &TrainOptions::bidirectional},
      {"bias_hh", &TrainOptions::bias_hh},
      {"dropout", &TrainOptions::dropout},
      {"pool", &TrainOptions::pool},
      {"word_dropout", &TrainOptions::word_dropout},
      {"embed_dropout", &TrainOptions::embed_dropout},
      {"vectors", &TrainOptions::vectors},
      {"vectors_vocab", &TrainOptions::vectors_vocab},
      {"freeze_embedding", &TrainOptions::freeze_embedding},
      {"init_from", &TrainOptions::init_from},
      {"subwords", &TrainOptions::subwords},
      {"buckets", &TrainOptions::buckets},
      {"sparse_embedding", &TrainOptions::sparse_embedding},
      {"init", &TrainOptions::init},
      {"forget_bias", &TrainOptions::forget_bias},
      {"optimizer", &TrainOptions::optimizer},
      {"threads", &TrainOptions::threads},
      {"lr", &TrainOptions::lr},
      {"momentum", &TrainOptions::momentum},
      {"weight_decay", &TrainOptions::weight_decay},
      {"nesterov", &TrainOptions::nesterov},
      {"schedule", &TrainOptions::schedule},
      {"step_size", &TrainOptions::step_size},
      {"gamma", &TrainOptions::gamma},
      {"clip", &TrainOptions::clip},
      {"clip_norm", &TrainOptions::clip_norm},
      {"label_smoothing", &TrainOptions::label_smoothing},
      {"average", &TrainOptions::average},
      {"batch", &TrainOptions::batch},
      {"epochs", &TrainOptions::epochs},
      {"log_every", &TrainOptions::log_every},
      {"steps", &TrainOptions::steps},
      {"eval_every", &TrainOptions::eval_every},
      {"seq_len", &TrainOptions::seq_len},
      {"plateau_decay", &TrainOptions::plateau_decay},
      {"valid_fraction", &TrainOptions::valid_fraction},
      {"patience", &TrainOptions::patience},
      {"seed", &TrainOptions::seed},
      {"dtype", &TrainOptions::dtype},
      {"save", &TrainOptions::save, true},
      {"checkpoint", &TrainOptions::checkpoint, true},
      {"resume", &TrainOptions::resume, true},
      {"checkpoint_every", &TrainOptions::checkpoint_every},
      {"src_tokenizer", &TrainOptions::src_tokenizer, false, true},
      {"tgt_tokenizer", &TrainOptions::tgt_tokenizer, false, true},
      {"attention", &TrainOptions::attention, false, true},
      {"input_feeding", &TrainOptions::input_feeding, false, true},
      {"dec_cell", &TrainOptions::dec_cell, false, true},
      {"dec_layers", &TrainOptions::dec_layers, false, true},
      {"dec_hidden", &TrainOptions::dec_hidden, false, true},
      {"dec_embed", &TrainOptions::dec_embed, false, true},
      {"members", &TrainOptions::members, false, true},
      {"max_length", &TrainOptions::max_length, false, true},
  };
  return specs;
}

// The options a training function takes: train_seq2seq every one, the others
// all but train_seq2seq's own.
bool takes(const std::string& task, const OptionSpec& s) { return task == "seq2seq" || !s.seq2seq_only; }

void set_option(TrainOptions& o, const OptionSpec& spec, py::handle v) {
  const std::string name = spec.name;
  std::visit(
      [&](auto field) {
        using V = std::remove_reference_t<decltype(o.*field)>;
        if constexpr (std::is_same_v<V, std::string>)
          o.*field = spec.path ? path_arg(v, name) : str_arg(v, name);
        else if constexpr (std::is_same_v<V, bool>)
          o.*field = bool_arg(v, name);
        else if constexpr (std::is_floating_point_v<V>)
          o.*field = float_arg(v, name);
        else
          o.*field = V(int_arg(v, name, (long long)std::numeric_limits<V>::min(), (long long)std::numeric_limits<V>::max()));
      },
      spec.field);
}

// The options from keyword arguments (None: not given), with the presets' and a
// language model's defaults for the rest, as `recur train` fills them.
TrainOptions options_from(const std::string& task, const py::kwargs& kwargs, const std::string& function,
                          std::set<std::string> given) {
  TrainOptions o;
  o.task = task;
  for (const auto& [key, value] : kwargs) {
    const std::string k = py::str(key);
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : option_specs())
      if (k == s.name && takes(task, s)) spec = &s;
    if (!spec) {
      for (const OptionSpec& s : option_specs())
        if (k == s.name) type_error(function + "() got an unexpected keyword argument '" + k + "' (an option of train_seq2seq)");
      py::list names;
      for (const OptionSpec& s : option_specs())
        if (takes(task, s)) names.append(s.name);
      py::list close = py::module_::import("difflib").attr("get_close_matches")(k, names, 1);
      type_error(function + "() got an unexpected keyword argument '" + k + "'" +
                 (close.size() ? " (did you mean '" + close[0].cast<std::string>() + "'?)" : ""));
    }
    if (value.is_none()) continue;
    set_option(o, *spec, value);
    std::string flag = k;
    for (char& c : flag)
      if (c == '_') c = '-';
    given.insert(flag);
  }
  recur::apply_defaults(o, given);
  return o;
}

// What a training run hears, turned into Python: each evaluation as a dict (to
// the history and the callback), notes to the "recur" logger, Ctrl-C.
struct PyTraining {
  py::object callback;  // None or callable(dict) -> False to stop
  py::list history;
  std::optional<py::error_already_set> error;  // raised by the callback or a signal handler
  bool interrupt = false;                      // KeyboardInterrupt: stop after this step, checkpoint first
  std::chrono::steady_clock::time_point next_signal_check{};

  recur::TrainCallbacks callbacks() {
    recur::TrainCallbacks cb;
    cb.on_note = [this](const std::string& note) {
      py::gil_scoped_acquire gil;
      try {
        py::module_::import("logging").attr("getLogger")("recur").attr("info")(note);
      } catch (py::error_already_set& e) {
        keep(std::move(e));
      }
    };
    cb.on_step = [this](const recur::StepEvent&) {
      if (interrupt) return false;
      // Signals are looked at every 20 ms, not every step: a step of the seed's run takes microseconds.
      const auto now = std::chrono::steady_clock::now();
      if (now < next_signal_check) return true;
      next_signal_check = now + std::chrono::milliseconds(20);
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) {
        keep(py::error_already_set());
        interrupt = true;  // (any exception a signal handler raised stops the run as Ctrl-C does)
      }
      return !interrupt;
    };
    cb.on_evaluation = [this](const recur::Evaluation& e) {
      py::gil_scoped_acquire gil;
      try {
        py::object d = json_loads(recur::to_json(e));
        history.append(d);
        if (callback.is_none()) return true;
        py::object r = callback(d);
        return r.is_none() || PyObject_IsTrue(r.ptr()) == 1;
      } catch (py::error_already_set& err) {
        const bool ctrl_c = err.matches(PyExc_KeyboardInterrupt);
        keep(std::move(err));
        if (ctrl_c) {
          interrupt = true;  // stopped by the next step, which writes the checkpoint first
          return true;
        }
        return false;  // the callback failed: end the run here; its exception is raised after
      }
    };
    return cb;
  }

  void keep(py::error_already_set&& e) {
    if (!error) error.emplace(std::move(e));
  }

  // After the run, with the GIL: the callback's exception, or Ctrl-C as recur.Interrupted.
  void raise_if_stopped(const std::string& checkpoint, const std::string& where) {
    if (interrupt && error && error->matches(PyExc_KeyboardInterrupt)) {
      std::string msg = "interrupted at " + where;
      if (!checkpoint.empty()) msg += "; checkpoint written to " + checkpoint + " (continue with resume='" + checkpoint + "')";
      py::object exc = py::reinterpret_borrow<py::object>(g_interrupted)(msg);
      exc.attr("checkpoint") = checkpoint.empty() ? py::object(py::none()) : py::object(py::str(checkpoint));
      error.reset();
      PyErr_SetObject(g_interrupted, exc.ptr());
      throw py::error_already_set();
    }
    if (error) {
      error->restore();
      error.reset();
      throw py::error_already_set();
    }
  }
};

py::dict metrics_dict(const recur::Metrics& m) {
  py::dict d("n"_a = m.n, "loss"_a = m.loss);
  if (m.has_accuracy) d["accuracy"] = m.accuracy;
  return d;
}

py::dict training_dict(const recur::TrainResult& r, double seconds) {
  py::dict d("epochs_run"_a = r.epochs_run, "steps_run"_a = r.steps_run, "stopped_early"_a = r.stopped_early,
             "seconds"_a = seconds);
  if (r.has_best) {
    d["best_at"] = r.best_at;
    d["best"] = metrics_dict(r.best);
  }
  return d;
}

// Runs train(callbacks) with the GIL released; afterwards raises what stopped
// it (the callback's exception, Ctrl-C as recur.Interrupted, `where` the run
// stood), else returns the run, its evaluations in `history`.
template <class Run, class Train, class Where>
Run run_from_python(py::handle callback, const std::string& resume, py::list& history, Train train, Where where) {
  PyTraining t;
  t.callback = py::reinterpret_borrow<py::object>(callback);
  const recur::TrainCallbacks cb = t.callbacks();
  std::optional<Run> run;
  {
    py::gil_scoped_release unlocked;
    run.emplace(about_files({resume}, [&] { return train(cb); }));
  }
  t.raise_if_stopped(run->checkpoint, where(*run));
  history = t.history;
  return std::move(*run);
}

py::object train_classifier(py::handle texts, py::handle labels, py::handle valid, py::handle test, py::handle callback,
                            const py::kwargs& kwargs) {
  recur::ClassifierData data;
  data.train = labeled_arg(texts, labels, "texts", "labels");
  data.train_name = "texts";
  std::set<std::string> given;
  // valid=(texts, labels), test=(texts, labels); messages name them "valid labels:3", ...
  auto pair = [](py::handle o, const std::string& name) {
    const auto [texts, labels] = two_of(o, name, "(texts, labels)");
    return labeled_arg(texts, labels, name + " texts", name + " labels");
  };
  if (!valid.is_none()) data.valid = pair(valid, "valid"), data.valid_name = "valid labels", given.insert("valid");
  if (!test.is_none()) data.test = pair(test, "test"), data.test_name = "test labels";
  if (!callback.is_none() && !PyCallable_Check(callback.ptr())) type_error("callback must be callable, not " + type_name(callback));
  const TrainOptions o = options_from("classify", kwargs, "train_classifier", given);

  py::list history;
  recur::ClassifierRun run = run_from_python<recur::ClassifierRun>(
      callback, o.resume, history, [&](const recur::TrainCallbacks& cb) { return recur::Classifier::train(data, o, cb); },
      [](const recur::ClassifierRun& r) { return std::to_string(r.result.epoch) + "/" + std::to_string(r.result.position); });
  auto h = std::make_unique<ClassifierHandle>(std::move(run.model));
  h->history = history;
  py::dict training = training_dict(run.result, run.seconds);
  if (run.has_test) training["test"] = metrics_dict(run.test);
  h->training = training;
  return py::cast(std::move(h));
}

py::object train_lm(py::handle text, py::handle valid_text, py::handle text_file, py::handle valid_file,
                    py::handle callback, const py::kwargs& kwargs) {
  recur::LanguageModelData data;
  if (text.is_none() == text_file.is_none()) type_error("train_lm takes a text or a text_file (one of them)");
  if (!valid_text.is_none() && !valid_file.is_none()) type_error("give valid_text or valid_file, not both");
  if (!text.is_none()) data.text = str_arg(text, "text"), data.text_name = "text";
  // A file is read in pieces, its ids kept on disk: a text larger than memory.
  if (!text_file.is_none()) data.text_file = data.text_name = path_arg(text_file, "text_file");
  if (!valid_text.is_none()) data.valid_text = str_arg(valid_text, "valid_text"), data.valid_name = "valid_text";
  if (!valid_file.is_none()) data.valid_file = data.valid_name = path_arg(valid_file, "valid_file");
  if (!callback.is_none() && !PyCallable_Check(callback.ptr())) type_error("callback must be callable, not " + type_name(callback));
  const TrainOptions o = options_from("lm", kwargs, "train_lm", {});

  py::list history;
  recur::LanguageModelRun run = run_from_python<recur::LanguageModelRun>(
      callback, o.resume, history,
      [&](const recur::TrainCallbacks& cb) { return recur::LanguageModel::train(data, o, cb); },
      [&](const recur::LanguageModelRun& r) { return std::to_string(r.result.steps_run) + "/" + std::to_string(o.steps); });
  auto h = std::make_unique<LmHandle>(std::move(run.model));
  h->history = history;
  h->training = training_dict(run.result, run.seconds);
  return py::cast(std::move(h));
}

// ---- sequence to sequence ------------------------------------------------------------------

// A sequence-to-sequence model (recur.load on its file, recur.train_seq2seq).
struct TranslatorHandle {
  std::shared_ptr<const recur::Translator> m;
  py::list history;
  py::object training = py::none();
  explicit TranslatorHandle(recur::Translator&& t) : m(std::make_shared<const recur::Translator>(std::move(t))) {}

  py::dict config() const { return config_of(m->to_safetensors().metadata); }  // sizes as int, flags as bool, ...
  py::bytes to_bytes() const {
    std::string b;
    {
      py::gil_scoped_release unlocked;
      b = recur::encode_safetensors(m->to_safetensors());
    }
    return py::bytes(b);
  }
  std::string describe() const {
    const recur::Seq2SeqInfo& i = m->info();
    const recur::Seq2SeqConfig& c = i.config;
    return "<recur.Translator " + recur::to_string(i.src_tokenizer) + " (" + std::to_string(i.src_vocab.size()) +
           ") -> " + recur::to_string(i.tgt_tokenizer) + " (" + std::to_string(i.tgt_vocab.size()) + "), encoder " +
           recur::cell_name(c.encoder.cell) + " " + std::to_string(c.encoder.layers) + "x" +
           std::to_string(c.encoder.hidden) + (c.encoder.bidirectional ? " bidirectional" : "") + ", decoder " +
           recur::cell_name(c.cell) + " " + std::to_string(c.layers) + "x" + std::to_string(c.hidden) + ", attention " +
           recur::to_string(c.attention) + (i.members > 1 ? ", " + std::to_string(i.members) + " members" : "") + ">";
  }
};

recur::DecodeOptions decode_args(py::handle beam, py::handle nbest, py::handle length_penalty, py::handle max_length,
                                 py::handle threads) {
  recur::DecodeOptions o;
  o.threads = threads_arg(threads);
  o.beam = int(int_arg(beam, "beam", 1, 1000));
  o.nbest = int(int_arg(nbest, "nbest", 1, 1000));
  o.length_penalty = float_arg(length_penalty, "length_penalty");
  o.max_length = int(int_arg(max_length, "max_length", 0, INT_MAX));
  recur::check(o);
  return o;
}

// As `recur translate --format jsonl` writes each line: output and score, the
// n best with nbest > 1; with attention, the source's tokens and the weights
// (output symbols x source tokens, float32).
py::list translations_out(const std::vector<recur::Translation>& out, int nbest, bool attention) {
  py::list l;
  for (const recur::Translation& t : out) {
    const recur::Hypothesis& best = t.nbest[0];
    py::dict d("output"_a = best.text, "score"_a = best.score, "tokens"_a = string_list(best.tokens),
               "unknown"_a = t.unknown);
    if (nbest > 1) {
      py::list n;
      for (const recur::Hypothesis& h : t.nbest) n.append(py::dict("output"_a = h.text, "score"_a = h.score));
      d["nbest"] = n;
    }
    if (attention) {
      d["source_tokens"] = string_list(t.source_tokens);
      std::vector<float> w;
      for (const auto& row : best.attention) w.insert(w.end(), row.begin(), row.end());
      d["attention"] = float_array(w, {py::ssize_t(best.attention.size()), py::ssize_t(t.source_tokens.size())});
    }
    l.append(d);
  }
  return l;
}

std::vector<recur::LabeledText> pairs_arg(py::handle sources_obj, py::handle targets_obj, const std::string& name) {
  const std::vector<std::string> sources = strings_arg(sources_obj, name + "sources");
  const std::vector<std::string> targets = strings_arg(targets_obj, name + "targets");
  if (sources.size() != targets.size())
    value_error(name + "sources and " + name + "targets differ in length: " + std::to_string(sources.size()) +
                " sources, " + std::to_string(targets.size()) + " targets");
  std::vector<recur::LabeledText> rows(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) rows[i] = {sources[i], targets[i], long(i)};
  return rows;
}

py::object train_seq2seq(py::handle sources, py::handle targets, py::handle valid, py::handle test,
                         py::handle callback, const py::kwargs& kwargs) {
  recur::Seq2SeqData data;
  data.train = pairs_arg(sources, targets, "");
  data.train_name = "pairs";  // the library's messages: "pairs:3: the target ... is empty" (3: the list index)
  std::set<std::string> given;
  auto pair = [](py::handle o, const std::string& name) {
    const auto [sources, targets] = two_of(o, name, "(sources, targets)");
    return pairs_arg(sources, targets, name + " ");
  };
  if (!valid.is_none()) data.valid = pair(valid, "valid"), data.valid_name = "valid pairs", given.insert("valid");
  if (!test.is_none()) data.test = pair(test, "test"), data.test_name = "test pairs";
  if (!callback.is_none() && !PyCallable_Check(callback.ptr())) type_error("callback must be callable, not " + type_name(callback));
  const TrainOptions o = options_from("seq2seq", kwargs, "train_seq2seq", given);

  py::list history;
  recur::TranslatorRun run = run_from_python<recur::TranslatorRun>(
      callback, o.resume, history, [&](const recur::TrainCallbacks& cb) { return recur::Translator::train(data, o, cb); },
      [](const recur::TranslatorRun& r) { return std::to_string(r.result.epoch) + "/" + std::to_string(r.result.position); });
  auto h = std::make_unique<TranslatorHandle>(std::move(run.model));
  h->history = history;
  h->training = training_dict(run.result, run.seconds);
  return py::cast(std::move(h));
}

// ---- loading ------------------------------------------------------------------------------

py::object load(py::handle path_obj) {
  const std::string path = path_arg(path_obj, "path");
  std::optional<recur::Classifier> clf;
  std::optional<recur::LanguageModel> lm;
  std::optional<recur::Translator> tr;
  {
    py::gil_scoped_release unlocked;
    about_files({path}, [&] {
      const std::string task = recur::model_task(path);
      if (task == "lm")
        lm.emplace(recur::LanguageModel::load(path));
      else if (task == "seq2seq")
        tr.emplace(recur::Translator::load(path));
      else
        clf.emplace(recur::Classifier::load(path));
    });
  }
  if (lm) return py::cast(std::make_unique<LmHandle>(std::move(*lm)));
  if (tr) return py::cast(std::make_unique<TranslatorHandle>(std::move(*tr)));
  return py::cast(std::make_unique<ClassifierHandle>(std::move(*clf)));
}

py::object from_safetensors(recur::SafeTensors st, const std::string& name) {
  const auto task = st.metadata.find("task");
  if (task != st.metadata.end() && task->second == "lm")
    return py::cast(std::make_unique<LmHandle>(recur::LanguageModel::from_safetensors(std::move(st), name)));
  if (task != st.metadata.end() && task->second == "seq2seq")
    return py::cast(std::make_unique<TranslatorHandle>(recur::Translator::from_safetensors(std::move(st), name)));
  return py::cast(std::make_unique<ClassifierHandle>(recur::Classifier::from_safetensors(std::move(st), name)));
}

// tensors: {name: float32 C-contiguous array}; metadata: {key: str} (python/recur/__init__.py prepares them).
py::object from_tensors(const py::dict& tensors, const py::dict& metadata, const std::string& name) {
  recur::SafeTensors st;
  for (const auto& [k, v] : tensors) {
    const std::string key = str_arg(k, "a state_dict key");
    auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(v);
    if (!a) type_error("state_dict['" + key + "'] is " + type_name(v) + ", not an array");
    recur::TensorF32 t;
    for (py::ssize_t i = 0; i < a.ndim(); ++i) t.shape.push_back(a.shape(i));
    t.data.assign(a.data(), a.data() + a.size());
    st.tensors.emplace(key, std::move(t));
  }
  for (const auto& [k, v] : metadata) st.metadata[str_arg(k, "a config key")] = str_arg(v, "config['" + py::str(k).cast<std::string>() + "']");
  return from_safetensors(std::move(st), name);
}

py::object from_bytes(py::handle b) {
  if (!PyBytes_Check(b.ptr())) type_error("data must be bytes, not " + type_name(b));
  recur::SafeTensors st = recur::decode_safetensors(py::reinterpret_borrow<py::bytes>(b), "bytes");
  return from_safetensors(std::move(st), "bytes");
}

}  // namespace

PYBIND11_MODULE(_recur, m) {
  m.doc() = "recur's library, for Python (use the package: import recur)";

  // The exception classes, in Python (a MissingFileError's str is the library's message alone,
  // not OSError's "[Errno 2] ...").
  py::dict ns;
  ns["__builtins__"] = py::module_::import("builtins");
  ns["__name__"] = "recur";
  py::exec(R"(
class Error(ValueError):
    """An error recur reports: a bad model file, option, text or label. str(e) is
    the library's one-line message, naming the file, position or option as the
    command line does ("--hidden must be at least 1", "labels:3: unknown label ...")."""

class MissingFileError(FileNotFoundError, Error):
    """A file recur was asked to read does not exist (e.filename names it)."""
    def __str__(self):
        return str(self.args[0]) if self.args else ""

class Interrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C): the checkpoint was written first, as
    `recur train` writes it. e.checkpoint is its path (None when none was
    written); training again with resume=e.checkpoint continues the run."""
    checkpoint = None
)",
           ns);
  g_error = ns["Error"].ptr();
  g_missing = ns["MissingFileError"].ptr();
  g_interrupted = ns["Interrupted"].ptr();
  for (PyObject* e : {g_error, g_missing, g_interrupted}) Py_INCREF(e);  // held for the module's life
  m.attr("Error") = py::handle(g_error);
  m.attr("MissingFileError") = py::handle(g_missing);
  m.attr("Interrupted") = py::handle(g_interrupted);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const MissingFile& e) {
      py::object exc = py::reinterpret_borrow<py::object>(g_missing)(e.message);
      exc.attr("errno") = ENOENT;
      exc.attr("filename") = e.path;
      PyErr_SetObject(g_missing, exc.ptr());
    } catch (const recur::Error& e) {
      PyErr_SetString(g_error, e.what());
    }
  });

  py::class_<ClassifierHandle>(m, "Classifier", py::dynamic_attr(),
                               "A text classifier (recur.load, recur.train_classifier): labels for texts.")
      .def_property_readonly("task", [](const ClassifierHandle&) { return "classify"; })
      .def_property_readonly("config", &ClassifierHandle::config,
                             "The model file's metadata as Python values (cell, num_layers, hidden_size, "
                             "bidirectional, tokenizer, normalization, vocab, labels, ...)")
      .def_property_readonly("labels", [](const ClassifierHandle& h) { return string_list(h.m->labels()); },
                             "The labels, in the order of predict_proba's columns")
      .def_property_readonly("vocab", &ClassifierHandle::vocab, "The vocabulary's tokens, in index order")
      .def_readonly("history", &ClassifierHandle::history, "Each evaluation of the training run, as callback= got it")
      .def_readonly("training", &ClassifierHandle::training, "How the training run ended (None for a loaded model)")
      .def("save", &ClassifierHandle::save, "path"_a, "Writes the model file (safetensors), atomically")
      .def("to_bytes", &ClassifierHandle::to_bytes, "The model file's bytes")
      .def("state_dict", &ClassifierHandle::state_dict,
           "The weights as float32 numpy arrays under PyTorch's names (embedding.weight, rnn.weight_ih_l0, ..., "
           "head.weight, head.bias)")
      .def(
          "predict_proba",
          [](const ClassifierHandle& h, py::handle texts_obj, py::handle threads_obj) {
            const std::vector<std::string> texts = strings_arg(texts_obj, "texts");
            const int threads = threads_arg(threads_obj);
            std::vector<recur::Prediction> ps;
            {
              py::gil_scoped_release unlocked;
              ps = h.m->predict(texts, threads);
            }
            const py::ssize_t C = py::ssize_t(h.m->labels().size());
            py::array_t<double> out({py::ssize_t(ps.size()), C});
            double* p = out.mutable_data();
            for (const recur::Prediction& q : ps) p = std::copy(q.probabilities.begin(), q.probabilities.end(), p);
            return out;
          },
          "texts"_a, "threads"_a = py::none(),
          "Label probabilities, a float64 array (len(texts), len(labels)) in .labels order; the numbers "
          "`recur predict --format jsonl` prints. threads=None uses every core (the answers do not depend on it).")
      .def(
          "predict",
          [](const ClassifierHandle& h, py::handle texts_obj, py::handle threads_obj) {
            const std::vector<std::string> texts = strings_arg(texts_obj, "texts");
            const int threads = threads_arg(threads_obj);
            std::vector<recur::Prediction> ps;
            {
              py::gil_scoped_release unlocked;
              ps = h.m->predict(texts, threads);
            }
            const auto& labels = h.m->labels();
            std::vector<py::str> names;
            for (const std::string& l : labels) names.emplace_back(l);
            py::list out(ps.size());
            for (std::size_t i = 0; i < ps.size(); ++i) out[i] = names[std::size_t(ps[i].label)];
            return out;
          },
          "texts"_a, "threads"_a = py::none(), "The most probable label of each text")
      .def(
          "evaluate",
          [](const ClassifierHandle& h, py::handle texts, py::handle labels) {
            const std::vector<recur::LabeledText> rows = labeled_arg(texts, labels, "texts", "labels");
            std::string json;
            {
              py::gil_scoped_release unlocked;
              json = h.m->evaluate(rows, "labels").json();
            }
            return json_loads(json);
          },
          "texts"_a, "labels"_a,
          "Loss, accuracy, macro-F1, per-class scores and the confusion matrix: the dict `recur eval --format json` "
          "prints. A label the model does not know is a recur.Error naming its index (labels:3 is labels[3]).")
      .def(
          "encode",
          [](const ClassifierHandle& h, py::handle text_obj) {
            const recur::Encoded e = h.m->info().encode(str_arg(text_obj, "text"));
            py::list ids;
            for (int id : e.ids) ids.append(id);
            return ids;
          },
          "text"_a,
          "The token ids of a text as the model reads it (normalized, tokenized); a token the vocabulary "
          "does not know is -1 (a zero input vector) or, when the model has one, <unk>'s id")
      .def(
          "explain",
          [](const ClassifierHandle& h, py::handle text_obj) {
            const std::string text = str_arg(text_obj, "text");
            recur::ClassifierExplanation x;
            {
              py::gil_scoped_release unlocked;
              x = h.m->explain(text);
            }
            const py::ssize_t T = py::ssize_t(x.prefix_probabilities.size()), C = py::ssize_t(h.m->labels().size());
            py::array_t<double> prefix({T, C});
            double* p = prefix.mutable_data();
            for (const auto& row : x.prefix_probabilities) p = std::copy(row.begin(), row.end(), p);
            py::list known;
            for (bool k : x.known) known.append(py::bool_(k));
            return py::dict("tokens"_a = string_list(x.tokens), "known"_a = known,
                            "label"_a = h.m->labels()[std::size_t(x.label)], "probabilities"_a = double_array(x.probabilities),
                            "prefix_probabilities"_a = prefix,
                            "importance"_a = double_array(x.importance));
          },
          "text"_a,
          "What the network makes of a text: its tokens (and whether the vocabulary knows each), the prediction, "
          "the prediction after each prefix (T, C) and each token's importance (T,)")
      .def(
          "hidden_states",
          [](const ClassifierHandle& h, py::handle text_obj, py::handle return_cell, py::handle return_gates) {
            const std::string text = str_arg(text_obj, "text");
            const bool cell = bool_arg(return_cell, "return_cell"), gates = bool_arg(return_gates, "return_gates");
            recur::HiddenStates s;
            {
              py::gil_scoped_release unlocked;
              s = h.m->hidden_states(text);
            }
            return hidden_states_out(s, recur::cell_name(h.m->info().config.cell), cell, gates);
          },
          "text"_a, "return_cell"_a = false, "return_gates"_a = false,
          "The hidden state of every layer and direction after each token: float32 (T, layers*directions, H), "
          "units ordered layer 0 forward, layer 0 reverse, layer 1, ... With return_cell (LSTM) and/or "
          "return_gates, a tuple (h, c, gates) of those asked for; gates (T, units, G, H) in PyTorch's order.")
      .def("__repr__", [](const ClassifierHandle& h) { return h.describe("Classifier"); })
      .def(py::pickle([](const ClassifierHandle& h) { return h.to_bytes(); },
                      [](const py::bytes& b) {
                        recur::SafeTensors st = recur::decode_safetensors(std::string(b), "pickle");
                        return std::make_unique<ClassifierHandle>(recur::Classifier::from_safetensors(std::move(st), "pickle"));
                      }));

  py::class_<Stream>(m, "Stream", "Pieces of generated text, one at a time (LanguageModel.stream)")
      .def("__iter__", [](Stream& s) -> Stream& { return s; })
      .def("__next__", [](Stream& s) {
        if (s.left == 0) throw py::stop_iteration();
        if (s.left > 0) --s.left;
        return s.g.next();
      });

  py::class_<LmHandle>(m, "LanguageModel", py::dynamic_attr(),
                       "A language model (recur.load, recur.train_lm): scores and writes text.")
      .def_property_readonly("task", [](const LmHandle&) { return "lm"; })
      .def_property_readonly("config", &LmHandle::config, "The model file's metadata as Python values")
      .def_property_readonly("labels", [](const LmHandle&) { return py::list(); }, "A language model has none: []")
      .def_property_readonly("vocab", &LmHandle::vocab, "The vocabulary's symbols, in index order")
      .def_readonly("history", &LmHandle::history, "Each evaluation of the training run, as callback= got it")
      .def_readonly("training", &LmHandle::training, "How the training run ended (None for a loaded model)")
      .def("save", &LmHandle::save, "path"_a, "Writes the model file (safetensors), atomically")
      .def("to_bytes", &LmHandle::to_bytes, "The model file's bytes")
      .def("state_dict", &LmHandle::state_dict, "The weights as float32 numpy arrays under PyTorch's names")
      .def(
          "evaluate",
          [](const LmHandle& h, py::handle text_obj) {
            const std::string text = str_arg(text_obj, "text");
            std::string json;
            {
              py::gil_scoped_release unlocked;
              json = h.m->evaluate(text, "text").json();
            }
            return json_loads(json);
          },
          "text"_a,
          "Loss of the model on a text: {'n', 'loss' (nats per token), 'bits_per_token', 'unknown_tokens'}, the dict "
          "`recur eval --text FILE --format json` prints")
      .def(
          "generate",
          [](const LmHandle& h, py::handle prime_obj, py::handle length, py::handle temperature, py::handle top_k,
             py::handle top_p, py::handle seed) {
            const std::string prime = str_arg(prime_obj, "prime");
            const long n = long(int_arg(length, "length", LONG_MIN, LONG_MAX));
            const recur::SampleOptions o = sample_args(temperature, top_k, top_p);
            const std::uint32_t s = seed_arg(seed);
            std::string out;
            {
              py::gil_scoped_release unlocked;
              out = h.m->generate(prime, n, o, s);
            }
            return out;
          },
          "prime"_a = "", "length"_a = 500, "temperature"_a = 1.0, "top_k"_a = 0, "top_p"_a = 1.0, "seed"_a = 1,
          "`length` symbols sampled after the prime (the prime not included): what `recur generate` prints after "
          "the prime with the same settings. temperature 0 = the most likely symbol; same seed, same text.")
      .def(
          "stream",
          [](const LmHandle& h, py::handle prime_obj, py::handle length, py::handle temperature, py::handle top_k,
             py::handle top_p, py::handle seed) {
            const std::string prime = str_arg(prime_obj, "prime");
            const long n = length.is_none() ? -1 : long(int_arg(length, "length", LONG_MIN, LONG_MAX));
            if (!length.is_none() && n < 0) throw recur::Error("--length must be >= 0");
            const recur::SampleOptions o = sample_args(temperature, top_k, top_p);
            return Stream{h.m, h.m->start(prime, o, seed_arg(seed)), n};
          },
          "prime"_a = "", "length"_a = 500, "temperature"_a = 1.0, "top_k"_a = 0, "top_p"_a = 1.0, "seed"_a = 1,
          "generate()'s pieces one at a time, as an iterator (length=None: no end)")
      .def(
          "encode",
          [](const LmHandle& h, py::handle text_obj) {
            const std::vector<int> ids = h.m->encode(str_arg(text_obj, "text"));
            py::list out;
            for (int id : ids) out.append(id);
            return out;
          },
          "text"_a, "The symbol ids of a text as the model reads it (<unk>'s id for a symbol it does not know)")
      .def(
          "explain",
          [](const LmHandle& h, py::handle text_obj, py::handle top_obj) {
            const std::string text = str_arg(text_obj, "text");
            const int top = int(int_arg(top_obj, "top", 0, INT_MAX));
            recur::LmExplanation x;
            {
              py::gil_scoped_release unlocked;
              x = h.m->explain(text, top);
            }
            py::list known, next;
            for (bool k : x.known) known.append(py::bool_(k));
            for (const auto& after : x.next) {
              py::list l;
              for (const recur::NextSymbol& s : after) l.append(py::make_tuple(s.symbol, s.probability));
              next.append(l);
            }
            return py::dict("tokens"_a = string_list(x.tokens), "known"_a = known, "next"_a = next);
          },
          "text"_a, "top"_a = 5, "The tokens of a text and, after each, the `top` most likely next symbols (symbol, p)")
      .def(
          "hidden_states",
          [](const LmHandle& h, py::handle text_obj, py::handle return_cell, py::handle return_gates) {
            const std::string text = str_arg(text_obj, "text");
            const bool cell = bool_arg(return_cell, "return_cell"), gates = bool_arg(return_gates, "return_gates");
            recur::HiddenStates s;
            {
              py::gil_scoped_release unlocked;
              s = h.m->hidden_states(text);
            }
            return hidden_states_out(s, recur::cell_name(h.m->info().config.cell), cell, gates);
          },
          "text"_a, "return_cell"_a = false, "return_gates"_a = false,
          "The hidden state of every layer after each token: float32 (T, layers, H); with return_cell (LSTM) "
          "and/or return_gates a tuple (h, c, gates)")
      .def("__repr__", [](const LmHandle& h) { return h.describe("LanguageModel"); })
      .def(py::pickle([](const LmHandle& h) { return h.to_bytes(); },
                      [](const py::bytes& b) {
                        recur::SafeTensors st = recur::decode_safetensors(std::string(b), "pickle");
                        return std::make_unique<LmHandle>(recur::LanguageModel::from_safetensors(std::move(st), "pickle"));
                      }));

  py::class_<TranslatorHandle>(m, "Translator", py::dynamic_attr(),
                               "A sequence-to-sequence model (recur.load, recur.train_seq2seq): an output sequence "
                               "for each source, as `recur translate` writes it.")
      .def_property_readonly("task", [](const TranslatorHandle&) { return "seq2seq"; })
      .def_property_readonly("config", &TranslatorHandle::config,
                             "The model file's metadata as Python values (src_vocab, tgt_vocab, attention, "
                             "encoder_hidden_size, decoder_hidden_size, members, ...)")
      .def_property_readonly("members", [](const TranslatorHandle& h) { return h.m->info().members; },
                             "Models that decode together (recur train --members N; 1: one model)")
      .def_readonly("history", &TranslatorHandle::history, "Each evaluation of the training run, as callback= got it")
      .def_readonly("training", &TranslatorHandle::training, "How the training run ended (None for a loaded model)")
      .def("to_bytes", &TranslatorHandle::to_bytes, "The model file's bytes")
      .def("save",
           [](const TranslatorHandle& h, py::handle path_obj) {
             const std::string path = path_arg(path_obj, "path");
             py::gil_scoped_release unlocked;
             h.m->save(path);
           },
           "path"_a, "Writes the model file (safetensors), atomically")
      .def(
          "translate",
          [](const TranslatorHandle& h, py::handle sources_obj, py::handle beam, py::handle nbest,
             py::handle length_penalty, py::handle max_length, py::handle attention, py::handle threads) {
            const std::vector<std::string> sources = strings_arg(sources_obj, "sources");
            recur::DecodeOptions o = decode_args(beam, nbest, length_penalty, max_length, threads);
            o.attention = bool_arg(attention, "attention");
            std::vector<recur::Translation> out;
            {
              py::gil_scoped_release unlocked;
              out = h.m->translate(sources, o);
            }
            return translations_out(out, o.nbest, o.attention);
          },
          "sources"_a, py::kw_only(), "beam"_a = 1, "nbest"_a = 1, "length_penalty"_a = 1.0, "max_length"_a = 0,
          "attention"_a = false, "threads"_a = py::none(),
          "The outputs for a list of sources, as `recur translate --format jsonl` writes them: per source a "
          "dict of output (str), score, tokens and unknown (source tokens outside the vocabulary); with "
          "nbest > 1 the n best [{output, score}]; with attention=True source_tokens and the attention "
          "weights, float32 (output symbols, source tokens). beam=1: greedy. threads=None uses every core "
          "(the answers do not depend on it)")
      .def(
          "evaluate",
          [](const TranslatorHandle& h, py::handle sources, py::handle targets, py::handle beam,
             py::handle length_penalty, py::handle max_length, py::handle threads) {
            const std::vector<recur::LabeledText> pairs = pairs_arg(sources, targets, "");
            const recur::DecodeOptions o = decode_args(beam, py::int_(1), length_penalty, max_length, threads);
            std::string json;
            {
              py::gil_scoped_release unlocked;
              json = h.m->evaluate(pairs, o, "pairs").json();
            }
            return json_loads(json);
          },
          "sources"_a, "targets"_a, py::kw_only(), "beam"_a = 1, "length_penalty"_a = 1.0, "max_length"_a = 0,
          "threads"_a = py::none(),
          "As `recur eval --format json`: loss, sequence_accuracy, sequence_error_rate (a source is right "
          "when its output is one of its targets: list a source once per reference), token_error_rate "
          "(edit distance to the closest reference), bleu for word targets")
      .def("__repr__", &TranslatorHandle::describe)
      .def(py::pickle([](const TranslatorHandle& h) { return h.to_bytes(); },
                      [](const py::bytes& b) {
                        recur::SafeTensors st = recur::decode_safetensors(std::string(b), "pickle");
                        return std::make_unique<TranslatorHandle>(recur::Translator::from_safetensors(std::move(st), "pickle"));
                      }));

  m.def("load", &load, "path"_a, "A model file: a Classifier, a LanguageModel or a Translator, as its metadata says");
  m.def("from_bytes", &from_bytes, "data"_a, "A model from a model file's bytes (model.to_bytes())");
  m.def("_from_tensors", &from_tensors, "tensors"_a, "metadata"_a, "name"_a);
  m.def("train_classifier", &train_classifier, "texts"_a, "labels"_a, py::kw_only(), "valid"_a = py::none(),
        "test"_a = py::none(), "callback"_a = py::none(),
        "Trains a classifier as `recur train --train` does and returns it.\n\n"
        "texts, labels: lists of str. valid=(texts, labels): validation data (picks the best epoch,\n"
        "drives patience); test=(texts, labels): evaluated at each evaluation. callback(dict) gets\n"
        "each evaluation (as --log-json writes it) and may return False to stop.\n"
        "options: `recur train`'s flags with underscores (preset='sentiment', cell='lstm',\n"
        "hidden=64, epochs=20, valid_fraction=0.1, clip_norm=5, save=..., checkpoint=..., resume=...;\n"
        "recur.train_option_names() lists them); None means not given. Checked with the CLI's\n"
        "messages (recur.Error). Ctrl-C writes the checkpoint and raises recur.Interrupted.");
  m.def("train_lm", &train_lm, "text"_a = py::none(), py::kw_only(), "valid_text"_a = py::none(),
        "text_file"_a = py::none(), "valid_file"_a = py::none(), "callback"_a = py::none(),
        "Trains a language model on a text as `recur train --task lm` does and returns it.\n\n"
        "text, or text_file=PATH: a UTF-8 file read in pieces, its ids kept on disk (a text\n"
        "larger than memory; the same model as the text passed whole). valid_text or\n"
        "valid_file=PATH: validation text (or valid_fraction=X: the end of the text). Options,\n"
        "callback and Ctrl-C as train_classifier's (steps=, seq_len=, eval_every=, preset='char-rnn', ...).");
  m.def("train_seq2seq", &train_seq2seq, "sources"_a, "targets"_a, py::kw_only(), "valid"_a = py::none(),
        "test"_a = py::none(), "callback"_a = py::none(),
        "Trains a sequence-to-sequence model as `recur train --task seq2seq` does and returns it.\n\n"
        "sources, targets: lists of str (the targets' symbols split on whitespace by default:\n"
        "tgt_tokenizer='symbols'). valid=(sources, targets): validation pairs (the best epoch is\n"
        "the one whose greedy outputs are right most often); test=(sources, targets). Options\n"
        "(preset='g2p', attention='additive', dec_layers=2, members=2, epochs=10, ...;\n"
        "recur.train_option_names('seq2seq') lists them), callback and Ctrl-C as train_classifier's.");
  m.def(
      "train_option_names",
      [](const std::string& task) {
        if (task != "classify" && task != "lm" && task != "seq2seq")
          value_error("task must be 'classify', 'lm' or 'seq2seq', not '" + task + "'");
        py::list l;
        for (const OptionSpec& s : option_specs())
          if (takes(task, s)) l.append(s.name);
        return l;
      },
      "task"_a = "classify",
      "The options a training function takes (train_classifier and train_lm: task 'classify' or 'lm'; "
      "train_seq2seq: 'seq2seq'): `recur train`'s flags with underscores");
  m.def("blas_core", &recur::blas_core, "The kernels OpenBLAS runs (\"SkylakeX\", \"Haswell\", ...)");
  m.attr("__version__") = RECUR_VERSION;
}
