/* Time base from Timer2 overflows (every 40 us, Timer2 also drives FAN2's PWM). */
#ifndef GANCE_CLOCK_H
#define GANCE_CLOCK_H
#include <stdint.h>

void clock_init(void);
/* Milliseconds since boot; wraps after 49.7 days, so compare with clock_due(). */
uint32_t clock_ms(void);
/* Same, for callers that already run with interrupts disabled. */
uint32_t clock_ms_isr(void);
/* Microsecond timestamp; call with interrupts disabled (ISRs). Wraps every 71.6 minutes. */
uint32_t clock_us_isr(void);
/* True once `now` has reached `deadline` (wrap-safe). */
static inline uint8_t clock_due(uint32_t now, uint32_t deadline) { return (int32_t)(now - deadline) >= 0; }

#endif
