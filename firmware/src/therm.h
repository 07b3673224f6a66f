/* NTC thermistor inputs: oversampled ADC readings converted to hundredths of a degree on the device. */
#ifndef GANCE_THERM_H
#define GANCE_THERM_H
#include <stdint.h>

void therm_init(void);
/* Call from the main loop about every ms; one ADC conversion per call. */
void therm_poll(void);
/* Sum of THERM_SAMPLES 10-bit conversions (0..16368); 0xFFFF before the first reading. */
uint16_t therm_raw(uint8_t input);
/* Temperature in 0.01 C, or THERM_INVALID when open, shorted or not yet read. */
int16_t therm_centi(uint8_t input);
/* The conversion itself, exposed for the host-side tests of the formula. */
int16_t therm_convert(uint16_t raw_sum);

#endif
