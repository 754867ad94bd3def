//! The IPVS generic-netlink commands (`IPVS_CMD_*`).

/// An IPVS generic-netlink command (`IPVS_CMD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// 1: add a service; also the reply to GET_SERVICE.
    NewService,
    /// 2: edit a service.
    SetService,
    /// 3: delete a service.
    DelService,
    /// 4: get one service (do) or all (dump).
    GetService,
    /// 5: add a destination; also the reply to GET_DEST.
    NewDest,
    /// 6: edit a destination.
    SetDest,
    /// 7: delete a destination.
    DelDest,
    /// 8: dump the destinations of a service.
    GetDest,
    /// 9: start a sync daemon; also the reply to GET_DAEMON.
    NewDaemon,
    /// 10: stop a sync daemon.
    DelDaemon,
    /// 11: dump the sync daemons.
    GetDaemon,
    /// 12: set timeouts; also the reply to GET_CONFIG.
    SetConfig,
    /// 13: get timeouts.
    GetConfig,
    /// 14: reply to GET_INFO.
    SetInfo,
    /// 15: get version and connection table size.
    GetInfo,
    /// 16: zero counters (all, or one service).
    Zero,
    /// 17: delete every service.
    Flush,
    /// Any other command number.
    Other(u8),
}

impl From<u8> for Command {
    fn from(v: u8) -> Self {
        use Command::*;
        match v {
            1 => NewService,
            2 => SetService,
            3 => DelService,
            4 => GetService,
            5 => NewDest,
            6 => SetDest,
            7 => DelDest,
            8 => GetDest,
            9 => NewDaemon,
            10 => DelDaemon,
            11 => GetDaemon,
            12 => SetConfig,
            13 => GetConfig,
            14 => SetInfo,
            15 => GetInfo,
            16 => Zero,
            17 => Flush,
            o => Other(o),
        }
    }
}

impl From<Command> for u8 {
    fn from(c: Command) -> u8 {
        use Command::*;
        match c {
            NewService => 1,
            SetService => 2,
            DelService => 3,
            GetService => 4,
            NewDest => 5,
            SetDest => 6,
            DelDest => 7,
            GetDest => 8,
            NewDaemon => 9,
            DelDaemon => 10,
            GetDaemon => 11,
            SetConfig => 12,
            GetConfig => 13,
            SetInfo => 14,
            GetInfo => 15,
            Zero => 16,
            Flush => 17,
            Other(o) => o,
        }
    }
}

impl Command {
    /// Whether the kernel implements this command as a dump (`NLM_F_DUMP` required).
    pub fn is_dump(self) -> bool {
        matches!(self, Command::GetDest | Command::GetDaemon)
    }
}
