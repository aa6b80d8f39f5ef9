"""Processes on this machine: process groups, ownership labels, endpoint processes, log text."""
