/* 25 kHz PWM outputs for the fan channels (pins and timers in pins.h). */
#ifndef GANCE_PWM_H
#define GANCE_PWM_H
#include <stdint.h>

/* Starts all timers with every output at 100%. Call first thing after reset. */
void pwm_init(void);
/* Sets a channel (duty 0..DUTY_FULL); returns the duty the hardware really produces. */
uint16_t pwm_set(uint8_t channel, uint16_t duty);

#endif
