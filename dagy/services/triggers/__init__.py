"""What starts runs on its own: schedules and sensors."""
