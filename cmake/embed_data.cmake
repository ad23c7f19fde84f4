# Writes OUT, a C++ file holding the built-in data set's two TSV files as strings,
# so the seed experiment finds its data from any working directory.
file(READ ${TRAIN} train_tsv)
file(READ ${TEST} test_tsv)
file(WRITE ${OUT} "// Generated from data/seed_train.tsv and data/seed_test.tsv; do not edit.\n"
  "namespace recur {\n"
  "extern const char* const kBuiltinTrain = R\"recur_tsv(${train_tsv})recur_tsv\";\n"
  "extern const char* const kBuiltinTest = R\"recur_tsv(${test_tsv})recur_tsv\";\n"
  "}\n")
