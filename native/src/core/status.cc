// Error-code names shared by the binding (E_SHAPE, E_NUMERIC, E_CANCELLED, E_ARG).
#include "lowbit/status.h"

namespace lowbit {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kShape: return "E_SHAPE";
    case Code::kNumeric: return "E_NUMERIC";
    case Code::kCancelled: return "E_CANCELLED";
    case Code::kArg: return "E_ARG";
  }
  return "E_ARG";
}

}  // namespace lowbit
