// Makes the op library importable as the Python module centernet_fast._C; importing it runs the
// static TORCH_LIBRARY registrations. The module itself has no attributes.
#include <Python.h>

extern "C" PyMODINIT_FUNC PyInit__C(void) {
  static PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
