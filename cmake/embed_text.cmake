# Writes OUT, a C++ file defining `const char* const NAME` in namespace NS as the
# contents of IN (a raw string), so a page or data file ships inside the binary.
file(READ ${IN} content)
string(FIND "${content}" ")recur_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )recur_embed\"")
endif()
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n"
  "namespace ${NS} {\n"
  "extern const char* const ${NAME} = R\"recur_embed(${content})recur_embed\";\n"
  "}\n")
