"""Every number of livability model 2, with where it comes from.

`docs/scoring.md` explains each; a number cited to a standard is the standard's, a number
marked "our choice" is a policy of this model, published so that it can be argued with.
The warehouse SQL (`scoring/sql.py`) and the per-home step (`scoring/model.py`) both read
them from here, so no threshold is written twice.
"""

from __future__ import annotations

from typing import Final

# --- Time ------------------------------------------------------------------------------------

HOURS_PER_WEEK: Final = 168
HOURS_PER_DAY: Final = 24
DAYS_PER_WEEK: Final = 7
# A reading stands for the 10-minute slot it falls in (the ThermoBeacon is polled every 10
# minutes); an hour is covered in sixths. Our choice: the gateway's polling interval.
SLOTS_PER_HOUR: Final = 6
# Parts of the day for coverage, in local (solar) hours: night, morning, afternoon, evening.
PARTS_OF_DAY: Final = 4
# CIBSE TM59 (2017) 4.2 b: bedrooms are assessed from 22:00 to 07:00.
NIGHT_START_HOUR: Final = 22
NIGHT_END_HOUR: Final = 7

# --- Cold (WHO Housing and Health Guidelines, 2018, recommendation 3.1) ----------------------

# At least 18 C indoors in the cold season; WHO's evidence review finds respiratory effects
# below 16 C, so degrees below 16 C count twice (the weighting is our choice).
COLD_LIMIT_C: Final = 18.0
COLD_SEVERE_C: Final = 16.0
# Our choice: an hour's severity is 1 - exp(-excess / scale); 1 K of weighted deficit gives
# 0.63. One hour never counts more than a whole hour, so a gap can be filled with the worst.
COLD_SCALE_K: Final = 1.0

# --- Heat (CIBSE TM52 2013, TM59 2017; EN 16798-1:2019 Annex B) ------------------------------

# TM52 / EN 16798-1 category II upper limit for free-running buildings:
# theta_max = 0.33 theta_rm + 21.8, theta_rm the running-mean outdoor temperature.
ADAPTIVE_SLOPE: Final = 0.33
HEAT_INTERCEPT_C: Final = 21.8
# EN 16798-1 defines the adaptive upper limits for theta_rm of 10-30 C and the lower ones for
# 15-30 C; outside, we hold each limit at the end of its range (our choice). Held, the limits
# are 19.75-25.1 C, the fixed category II heating-season band (20-25 C) within 0.25 K.
UPPER_LIMIT_TRM_RANGE: Final = (10.0, 30.0)
LOWER_LIMIT_TRM_RANGE: Final = (15.0, 30.0)
# TM59 4.2 b: bedrooms above 26 C at night for more than 1 % of the hours fail.
NIGHT_LIMIT_C: Final = 26.0
# TM52 criterion 1 counts hours with delta T >= 1 K, delta T rounded to whole degrees.
TM52_EXCEEDANCE_K: Final = 0.5
HEAT_SCALE_K: Final = 1.0  # our choice, as COLD_SCALE_K

# --- Damp and mould (BS EN ISO 13788:2012; IEA Annex 14, 1990) -------------------------------

# Temperature factor of the internal surface; 0.75 is the UK design minimum for dwellings
# (BRE IP1/06, after ISO 13788's method): the coldest corner a compliant home may have.
DEFAULT_FRSI: Final = 0.75
# ISO 13788 4.2: mould is likely where the surface RH stays at or above 80 %.
MOULD_CRITERION_RH: Final = 80.0
# Our choice: severity starts 10 %RH below the criterion (a week is shorter than the
# standard's month and susceptible surfaces start earlier) and grows with scale 10 %RH.
DAMP_ONSET_RH: Final = 70.0
DAMP_SCALE_RH: Final = 10.0
CONDENSATION_RH: Final = 100.0
# Our choice, on ISO 13788 Annex A's form (internal moisture excess falling linearly from
# theta_e = 0 C to 0 at 20 C): above 4 g/m3 in cold weather, moisture production (or too
# little ventilation) is to blame rather than under-heating.
MOISTURE_EXCESS_AT_0C: Final = 4.0
MOISTURE_EXCESS_ZERO_AT_C: Final = 20.0

# --- Comfort (EN 16798-1:2019 Annex B) -------------------------------------------------------

# Adaptive comfort temperature theta_c = 0.33 theta_rm + 18.8; category II is theta_c - 4 to
# theta_c + 3, category III one kelvin wider on each side.
COMFORT_INTERCEPT_C: Final = 18.8
CAT_II_BELOW_K: Final = 4.0
CAT_II_ABOVE_K: Final = 3.0
CAT_III_MARGIN_K: Final = 1.0
# Category II humidity: 25-60 %RH; category III upper 70 %RH. Low RH is a flag, not a hazard.
RH_COMFORT_HIGH: Final = 60.0
RH_COMFORT_MARGIN: Final = 10.0
DRY_AIR_RH: Final = 25.0
DRY_AIR_SHARE: Final = 0.1  # our choice: flag when over a tenth of the measured time

# --- Outdoor weather ------------------------------------------------------------------------

# EN 16798-1 B.2.2: theta_rm = (theta_ed-1 + 0.8 theta_ed-2 + ... + 0.2 theta_ed-7) / 3.8.
RUNNING_MEAN_WEIGHTS: Final = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2)
NEAREST_WEATHER_MAX_KM: Final = 50.0
EARTH_RADIUS_KM: Final = 6371.0088  # IUGG mean radius
# Without weather the week is scored on conservative assumptions and left ungraded: the
# coldest adaptive limits and a 0 C outdoor temperature for the surface (our choice).
NO_WEATHER_OUTDOOR_C: Final = 0.0

# --- Psychrometrics (WMO-No. 8, 2018, Annex 4.B: Magnus over water) ---------------------------

MAGNUS_HPA: Final = 6.112
MAGNUS_B: Final = 17.62
MAGNUS_C: Final = 243.12
# Water vapour density from vapour pressure: rho = 216.7 e / T (g/m3, e in hPa, T in K).
VAPOUR_DENSITY_FACTOR: Final = 216.7
KELVIN: Final = 273.15

# --- Sensor (our assumption, for the interval) -----------------------------------------------

# Stated accuracy class of consumer BLE thermo-hygrometers such as the ThermoBeacon; a
# deployment with calibrated sensors may set its own.
SENSOR_ACCURACY_C: Final = 0.5
SENSOR_ACCURACY_RH: Final = 3.0

# --- Overall, grade, coverage, interval (policy choices) -------------------------------------

# Weights of the overall score, a policy choice: the three health hazards 0.2 each, comfort
# 0.4. The overall is then capped by the worst hazard, so no hazard is averaged away.
WEIGHTS: Final = {"cold_hazard": 0.2, "heat_hazard": 0.2, "damp_hazard": 0.2, "comfort": 0.4}
HAZARDS: Final = ("cold_hazard", "heat_hazard", "damp_hazard")
# UK Energy Performance Certificate (SAP) bands: lower bound of each grade.
GRADE_BANDS: Final = (("A", 92.0), ("B", 81.0), ("C", 69.0), ("D", 55.0), ("E", 39.0), ("F", 21.0))
LOWEST_GRADE: Final = "G"
# Coverage rule: every sensor must cover at least this share of every part of the day
# (5 of 7 days, about); below it, no grade.
MIN_COVERAGE: Final = 0.7
# A grade whose interval spans more than this many bands is provisional.
MAX_BANDS_SPANNED: Final = 2
# Day-block bootstrap: resamples of the 7 days, and the interval's quantiles.
BOOTSTRAP_RESAMPLES: Final = 200
INTERVAL_QUANTILES: Final = (0.025, 0.975)
