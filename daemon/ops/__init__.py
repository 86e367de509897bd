"""Operations: admin socket, metrics, logs, sd_notify."""
