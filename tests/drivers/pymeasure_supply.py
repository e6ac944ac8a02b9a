"""A two-output bench supply written as any PyMeasure instrument is, for the pymeasure driver's
tests: channels (`ch_1`, `ch_2`), a strict validator, a measurement. pymeasure_supply.yaml is
its pyvisa-sim twin (`TCPIP::192.168.0.30::INSTR`)."""

from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range


class SupplyOutput(Channel):
    """One output of the supply."""

    voltage_setpoint = Channel.control(
        "VOLT{ch}?",
        "VOLT{ch} %g",
        """Control the output voltage setpoint in volts (0 to 30 V).""",
        validator=strict_range,
        values=[0, 30],
    )
    voltage = Channel.measurement("MEAS:VOLT{ch}?", """Get the output voltage in volts.""")


class BenchSupply(Instrument):
    """A two-output bench supply (a test instrument; no such product)."""

    ch_1 = Instrument.ChannelCreator(SupplyOutput, 1)
    ch_2 = Instrument.ChannelCreator(SupplyOutput, 2)

    tracking = Instrument.control(
        "TRACK?",
        "TRACK %d",
        """Control the tracking mode: 0 independent, 1 series, 2 parallel.""",
        validator=strict_discrete_set,
        values=[0, 1, 2],
        cast=int,
    )

    def __init__(self, adapter, name="Bench supply", **kwargs):
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
