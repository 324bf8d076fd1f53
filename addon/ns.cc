// Native parts of the ns area (see src/sys/native-ns.ts).
#include "common.h"

namespace rootless {

void InitNs(Napi::Env env, Napi::Object exports) {}

}  // namespace rootless
