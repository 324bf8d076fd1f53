// Native parts of the port area (see src/sys/native-port.ts).
#include "common.h"

namespace rootless {

void InitPort(Napi::Env env, Napi::Object exports) {}

}  // namespace rootless
