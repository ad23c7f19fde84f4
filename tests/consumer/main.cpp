// Trains a classifier on a TSV file, saves it, loads it back, labels texts and
// evaluates it on test data: the README's library example, built by the test
// suite against an installed recur with no compiler flags beyond -std=c++17.
//   usage: consumer TRAIN.tsv TEST.tsv MODEL.safetensors [TEXT ...]
#include <cstdio>
#include <iostream>

#include "recur/classifier.hpp"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s TRAIN.tsv TEST.tsv MODEL.safetensors [TEXT ...]\n", argv[0]);
    return 2;
  }
  try {
    recur::ClassifierData data;
    data.train = recur::load_labeled(argv[1], recur::DataOptions{});  // TSV, CSV or JSONL by extension
    data.train_name = argv[1];

    recur::TrainOptions o;  // every `recur train` flag, as a field: --min-count is min_count
    o.tokenizer = "word";
    o.lowercase = true;     // Unicode case folding, recorded in the model file
    o.min_count = 2;        // rarer words become <unk>
    o.cell = "gru";
    o.embed = 16;
    o.hidden = 32;
    o.init = "pytorch";
    o.optimizer = "adam";
    o.lr = 0.01;
    o.clip = 0;
    o.batch = 4;
    o.epochs = 40;
    recur::TrainCallbacks log;
    log.on_evaluation = [](const recur::Evaluation& e) {
      std::fprintf(stderr, "epoch %ld: loss %.3f, accuracy %.3f\n", e.epoch, e.train.loss, e.train.accuracy);
      return true;  // false would stop training here
    };
    recur::ClassifierRun run = recur::Classifier::train(data, o, log);
    run.model.save(argv[3]);

    const recur::Classifier model = recur::Classifier::load(argv[3]);
    for (int i = 4; i < argc; ++i) {
      const recur::Prediction p = model.predict(argv[i]);
      std::cout << p.json(model.labels()) << '\n';  // as `recur predict --format jsonl` prints it
    }
    const recur::EvalReport report = model.evaluate(recur::load_labeled(argv[2], recur::DataOptions{}), argv[2]);
    std::fprintf(stderr, "test accuracy %.3f, macro-F1 %.3f\n", report.metrics.accuracy, report.macro_f1);
  } catch (const recur::Error& e) {  // bad files, bad options: one line naming the file or flag
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
