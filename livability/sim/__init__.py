"""The simulator and the demo: simulated homes (`homes`, standard library only), a simulated
BLE radio for the gateway (`radio`), and the whole job on one machine (`demo`).

Never shipped in a function bundle or the edge image.
"""
