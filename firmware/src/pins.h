/*
 * gance cooler firmware: the one pin map for an ATmega328P @ 16 MHz (Arduino Nano / Uno class).
 *
 * Everything that names a pin, port, timer channel or ADC input lives here, so that the wiring
 * docs (hardware/) and the firmware cannot disagree. Arduino names in brackets.
 *
 *  function         MCU pin  Arduino  peripheral                 notes
 *  ---------------  -------  -------  -------------------------  ------------------------------------
 *  FAN0 PWM         PB1      D9       Timer1 OC1A                phase-correct PWM, TOP=ICR1=320 -> 25.000 kHz, 321 steps
 *  FAN1 PWM         PB2      D10      Timer1 OC1B                same timer as FAN0
 *  FAN2 PWM         PD3      D3       Timer2 OC2B                fast PWM, /8, TOP=OCR2A=79 -> 25.000 kHz, 80 steps
 *  FAN3 PWM         PD5      D5       Timer0 OC0B                fast PWM, /8, TOP=OCR0A=79 -> 25.000 kHz, 80 steps
 *  FAN0 TACH        PC2      A2       PCINT10 (PCINT1 vector)    falling edges, 2 pulses/rev
 *  FAN1 TACH        PC3      A3       PCINT11
 *  FAN2 TACH        PC4      A4       PCINT12
 *  FAN3 TACH        PC5      A5       PCINT13
 *  THERM0           PC0      A0       ADC0                       10K B3950 NTC to GND, 10K 1% from AVCC
 *  THERM1           PC1      A1       ADC1                       same divider
 *  STATUS LED       PB5      D13      GPIO                       on-board LED of Nano/Uno
 *  UART RX / TX     PD0/PD1  D0/D1    USART0                     115200 8N1 (U2X, UBRR=16), via the USB bridge
 *  (reserved)       PD6      D6       OC0A                       Timer0 TOP register: do not use as PWM
 *  (reserved)       PB3      D11      OC2A / MOSI                Timer2 TOP register; ISP header
 *  free             PD2 PD4 PD7 PB0 PB4 ADC6 ADC7 (D2 D4 D7 D8 D12 A6 A7)
 *
 * Electrical contract (why the firmware can promise "full fans while it is not running"):
 *  - 4-wire fans: the PWM pin drives the fan's PWM input directly (push-pull 5 V is tolerated by
 *    Intel-spec fans, whose input is pulled up inside the fan). A high-impedance pin (reset,
 *    bootloader, hung-and-reset firmware) reads as 100% to the fan.
 *  - 3-pin fans (option, per channel, EEPROM setting `three_pin_mask`): the same pin drives the gate
 *    of a logic-level N-MOSFET on the fan's low side through ~100 R, with a 10 K gate PULL-UP to 5 V
 *    (not a pull-down), so that a high-impedance pin again means fan fully on. Tach readings of a
 *    low-side switched fan are only trusted at 100% duty (its tach ground is chopped otherwise).
 *  - Tach: open collector; 10 K pull-up to 5 V on the board (the internal ~35 K pull-up is also enabled).
 *  - Thermistor: ADC = 1024 * R_ntc / (R_ntc + R_SERIES), ratiometric to AVCC (REFS0).
 */
#ifndef GANCE_PINS_H
#define GANCE_PINS_H

#include <avr/io.h>

#define FAN_COUNT 4
#define THERM_COUNT 2

/* PWM outputs: port register, DDR register and bit per channel. */
#define FAN0_PWM_PORT PORTB
#define FAN0_PWM_DDR DDRB
#define FAN0_PWM_BIT PB1
#define FAN1_PWM_PORT PORTB
#define FAN1_PWM_DDR DDRB
#define FAN1_PWM_BIT PB2
#define FAN2_PWM_PORT PORTD
#define FAN2_PWM_DDR DDRD
#define FAN2_PWM_BIT PD3
#define FAN3_PWM_PORT PORTD
#define FAN3_PWM_DDR DDRD
#define FAN3_PWM_BIT PD5

/* PWM timing. */
#define PWM_HZ 25000UL
#define PWM_T1_TOP 320 /* F_CPU / (2 * 1 * 25 kHz), phase correct: duty = OCR1x / TOP */
#define PWM_T02_TOP 79 /* F_CPU / (8 * 25 kHz) - 1, fast PWM: duty = (OCRxB + 1) / (TOP + 1) */

/* Tach inputs: all on port C so one pin-change vector serves every fan; bit = fan index + 2. */
#define TACH_PORT PORTC
#define TACH_DDR DDRC
#define TACH_PIN PINC
#define TACH_PCMSK PCMSK1
#define TACH_PCIE PCIE1
#define TACH_VECT PCINT1_vect
#define TACH_FIRST_BIT PC2
#define TACH_MASK (_BV(PC2) | _BV(PC3) | _BV(PC4) | _BV(PC5))
#define TACH_PULSES_PER_REV 2

/* Thermistors: ADC channel per input, divider and NTC constants. */
#define THERM0_ADC 0
#define THERM1_ADC 1
#define THERM_DIDR (_BV(ADC0D) | _BV(ADC1D))
#define THERM_R_SERIES 10000.0
#define THERM_R_NOMINAL 10000.0
#define THERM_T_NOMINAL_K 298.15
#define THERM_BETA 3950.0

/* Status LED. */
#define LED_PORT PORTB
#define LED_DDR DDRB
#define LED_BIT PB5

#endif
