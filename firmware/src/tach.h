/* Fan tach inputs: pin-change interrupt timestamps edges, the main loop turns them into rpm. */
#ifndef GANCE_TACH_H
#define GANCE_TACH_H
#include <stdint.h>

#define RPM_UNKNOWN 0xFFFFU

void tach_init(void);
/* Call from the main loop (about every ms); recomputes rpm every TACH_WINDOW_MS. */
void tach_poll(uint32_t now_ms);
/* Last computed speed of a fan; 0 when stopped. */
uint16_t tach_rpm(uint8_t fan);
/* True once the fan has produced a tach edge since boot (a fan without tach wire never does). */
uint8_t tach_seen(uint8_t fan);

#endif
